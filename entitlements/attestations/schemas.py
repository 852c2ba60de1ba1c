from marshmallow import Schema, fields, validate

from ..kernel.assurance import ASSURANCE_LEVELS
from .models import FORMATS


class AttestationIssuerSchema(Schema):
    id = fields.String()
    issuer = fields.String()
    name = fields.String()
    jwks_uri = fields.String(allow_none=True)
    has_jwks = fields.Function(lambda row: row.jwks is not None)
    formats = fields.List(fields.String())
    nationalities = fields.List(fields.String())
    assurance_levels = fields.List(fields.String())
    max_age_days = fields.Integer()
    status = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class AttestationIssuerCreateSchema(Schema):
    issuer = fields.Url(required=True, schemes={"https"}, require_tld=False,
                        validate=validate.Length(max=300))
    name = fields.String(required=True, validate=validate.Length(1, 200))
    jwks = fields.Dict(load_default=None)
    jwks_uri = fields.String(load_default=None, validate=validate.Length(1, 500))
    formats = fields.List(fields.String(validate=validate.OneOf(FORMATS)), required=True,
                          validate=validate.Length(1, len(FORMATS)))
    nationalities = fields.List(fields.String(validate=validate.Regexp(r"^[A-Z]{2}$")),
                                required=True, validate=validate.Length(1, 250))
    assurance_levels = fields.List(fields.String(validate=validate.OneOf(ASSURANCE_LEVELS)),
                                   required=True, validate=validate.Length(1, 3))
    max_age_days = fields.Integer(required=True, strict=True,
                                  validate=validate.Range(1, 3650))


class IssuerStatusSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(1, 500))
