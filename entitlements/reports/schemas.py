from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..base.fields import AwareDateTime
from .abuse import CATEGORIES, SUBJECTS


class ReportCreateSchema(Schema):
    starts_at = AwareDateTime(required=True, data_key="from")
    ends_at = AwareDateTime(required=True, data_key="to")


class ReportSchema(Schema):
    id = fields.String()
    starts_at = fields.DateTime(data_key="from")
    ends_at = fields.DateTime(data_key="to")
    requested_by = fields.String()
    created_at = fields.DateTime()
    job_id = fields.String()
    file_name = fields.String()
    sha256 = fields.String(allow_none=True)
    events = fields.Integer(allow_none=True)
    manifest = fields.String(allow_none=True, metadata={
        "description": "the signed manifest (a JWS), once written"})


class WhoCouldQuerySchema(Schema):
    at = AwareDateTime(required=True)
    organization_id = fields.String(load_default=None, validate=validate.Length(1, 64))
    limit = fields.Integer(load_default=None, validate=validate.Range(1, 100_000), metadata={
        "description": "list at most this many organizations and persons (1,000 unless "
                       "given; counts are whole)"})


class EvidenceItemSchema(Schema):
    description = fields.String(required=True, validate=validate.Length(1, 1000))
    reference = fields.String(load_default=None, validate=validate.Length(1, 500), metadata={
        "description": "where it is kept: a ticket, a log query, a URL"})
    sha256 = fields.String(load_default=None, validate=validate.Regexp(r"^[0-9a-f]{64}$"))


class AbuseFlagSchema(Schema):
    subject_kind = fields.String(required=True, validate=validate.OneOf(SUBJECTS))
    subject_id = fields.String(required=True, validate=validate.Length(1, 64))
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    description = fields.String(required=True, validate=validate.Length(1, 2000))
    evidence = fields.List(fields.Nested(EvidenceItemSchema), required=True,
                           validate=validate.Length(1, 20))
    observed_from = AwareDateTime(load_default=None)
    observed_until = AwareDateTime(load_default=None)

    @validates_schema
    def _ordered(self, data: dict, **_: object) -> None:
        if (data["observed_from"] and data["observed_until"]
                and data["observed_until"] < data["observed_from"]):
            raise ValidationError("must not be before observed_from", "observed_until")


class AbuseReportSchema(Schema):
    id = fields.String()
    subject_kind = fields.String()
    subject_id = fields.String()
    organization_id = fields.String()
    category = fields.String()
    description = fields.String()
    observed_from = fields.DateTime(allow_none=True)
    observed_until = fields.DateTime(allow_none=True)
    evidence = fields.List(fields.Dict())
    flagged_by = fields.String()
    flagged_at = fields.DateTime()
    state = fields.String()
    decided_by = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    signed = fields.String(allow_none=True, metadata={
        "description": "the signed report (a JWS of the documented schema), once approved"})
