from collections.abc import Sequence
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from ..base.countries import is_country
from ..base.fields import AwareDateTime, StrictBoolean
from ..kernel.assurance import ASSURANCE_LEVELS


class OrganizationSchema(Schema):
    id = fields.String()
    name = fields.String()
    status = fields.String()
    trust_level = fields.String()
    country = fields.String(allow_none=True)
    tiers = fields.List(fields.String())
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class OrganizationChangeSchema(Schema):
    at = fields.DateTime()
    actor = fields.String()
    action = fields.String()
    from_status = fields.String()
    to_status = fields.String()
    from_trust = fields.String()
    to_trust = fields.String()
    reason = fields.String()
    evidence = fields.Dict()
    approved_by = fields.String(allow_none=True)


class TrustRequestSchema(Schema):
    id = fields.String()
    organization_id = fields.String()
    level = fields.String()
    requested_by = fields.String()
    requested_at = fields.DateTime()
    reason = fields.String()
    state = fields.String()
    decided_by = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decision_reason = fields.String(allow_none=True)


ORGANIZATION_COLUMNS = ("id", "name", "status", "trust_level", "country", "created_at",
                        "updated_at")


def dump_organization(org: Any, tiers: Sequence[str]) -> dict[str, Any]:
    return OrganizationSchema().dump({**{c: getattr(org, c) for c in ORGANIZATION_COLUMNS},
                                      "tiers": list(tiers)})


class EvidenceSchema(Schema):
    id = fields.String()
    organization_id = fields.String()
    kind = fields.String()
    value = fields.String()
    status = fields.String()
    details = fields.Dict()
    created_at = fields.DateTime()
    checked_at = fields.DateTime(allow_none=True)
    checked_by = fields.String(allow_none=True)


def _not_blank(name: str) -> None:
    if not name.strip():
        raise ValidationError("a name is more than spaces")


def _country(code: str) -> None:
    if not is_country(code):
        raise ValidationError("an ISO 3166-1 alpha-2 code, such as US")


class OrganizationCreateSchema(Schema):
    """An organization to apply for or onboard (one at a time, or in an import)."""

    name = fields.String(required=True, validate=[validate.Length(1, 200), _not_blank])
    country = fields.String(load_default=None, validate=_country)
    onboard = StrictBoolean(load_default=False, metadata={
        "description": "true: verified at once by this admin; false: an application"})


REASON = fields.String(required=True, validate=validate.Length(1, 500))


class LifecycleActionSchema(Schema):
    reason = REASON
    evidence = fields.Dict(keys=fields.String(), load_default=dict)


class TrustRequestCreateSchema(Schema):
    level = fields.String(required=True,
                          validate=validate.OneOf(["trusted", "government_partner"]))
    reason = REASON


class LowerTrustSchema(Schema):
    level = fields.String(required=True,
                          validate=validate.OneOf(["unverified", "verified", "trusted"]))
    reason = REASON


class DecisionSchema(Schema):
    reason = REASON
    evidence = fields.Dict(keys=fields.String(), load_default=dict)


class DomainChallengeSchema(Schema):
    domain = fields.String(required=True, validate=validate.Length(1, 253))


class LeiCheckSchema(Schema):
    lei = fields.String(required=True, validate=validate.Length(1, 40))


class CitizenshipAttestationSchema(Schema):
    reference = fields.String(required=True, validate=validate.Length(1, 300))
    nationalities = fields.List(fields.String(validate=validate.Regexp(r"^[A-Z]{2}$")),
                                required=True, validate=validate.Length(1, 50))
    level = fields.String(required=True, validate=validate.OneOf(ASSURANCE_LEVELS))
    expires_at = AwareDateTime(required=True)


class AgreementSchema(Schema):
    reference = fields.String(required=True, validate=validate.Length(1, 300))
