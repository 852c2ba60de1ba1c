from datetime import datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..base.fields import AwareDateTime, StrictBoolean
from . import service
from .models import BreakGlass, PolicyChangeRequest

REASON = validate.Length(1, 500)


class PolicyVersionSummarySchema(Schema):
    version = fields.Integer()
    base_version = fields.Integer(allow_none=True)
    author = fields.String()
    reason = fields.String()
    digest = fields.String()
    created_at = fields.DateTime()


class PolicyVersionSchema(PolicyVersionSummarySchema):
    document = fields.Dict()
    diff = fields.List(fields.Dict())


class ActivationSchema(Schema):
    id = fields.Integer()
    version = fields.Integer()
    kind = fields.String()
    activate_at = fields.DateTime()
    created_by = fields.String()
    approved_by = fields.String(allow_none=True)
    reason = fields.String()
    created_at = fields.DateTime()
    cancelled_at = fields.DateTime(allow_none=True)


class PolicyStateSchema(Schema):
    active_version = fields.Integer(allow_none=True)
    latest_version = fields.Integer()
    activations = fields.List(fields.Nested(ActivationSchema))


ON_PENDING = fields.String(load_default=None, validate=validate.OneOf(service.ON_PENDING),
                          metadata={"description": (
                              "Activations scheduled after this one would replace it when due: "
                              "keep them, or cancel them. Required when there are any.")})


class VersionCreateSchema(Schema):
    base_version = fields.Integer(required=True, strict=True, metadata={
        "description": ("The version the change builds on: the latest you read (or, with "
                        "on_active, the active one). Any other is stale (409).")})
    on_active = StrictBoolean(load_default=False, metadata={
        "description": ("Build on the active version, leaving out versions scheduled for "
                        "later (an urgent change).")})
    reason = fields.String(required=True, validate=REASON)
    document = fields.Dict(load_default=None, metadata={"description": "A whole policy."})
    patch = fields.Dict(load_default=None, metadata={
        "description": "An RFC 7396 merge patch applied to base_version's document."})
    activate_at = AwareDateTime(load_default=None, metadata={
        "description": "Activate at this time (not in the past)."})
    activate_now = StrictBoolean(load_default=False)
    on_pending = ON_PENDING

    @validates_schema
    def _one_activation(self, data: dict, **_: object) -> None:
        if data["activate_now"] and data["activate_at"] is not None:
            raise ValidationError("give activate_now or activate_at, not both", "activate_at")


class VersionCreatedSchema(Schema):
    version = fields.Nested(PolicyVersionSchema)
    activation = fields.Nested(ActivationSchema, allow_none=True)
    approval = fields.Nested(lambda: PolicyChangeRequestSchema(), allow_none=True, metadata={
        "description": "the request waiting for a second admin, when the activation needs "
                       "one"})


class ActivateSchema(Schema):
    reason = fields.String(required=True, validate=REASON)
    at = AwareDateTime(load_default=None)
    on_pending = ON_PENDING
    revoke_disallowed = StrictBoolean(load_default=False, metadata={
        "description": "Re-imposition: activate now and revoke every live token the version "
                       "no longer allows (one audited event)."})

    @validates_schema
    def _now_to_revoke(self, data: dict, **_: object) -> None:
        if data["revoke_disallowed"] and data["at"] is not None:
            raise ValidationError("revoke_disallowed applies to an immediate activation", "at")


class RollbackSchema(Schema):
    version = fields.Integer(required=True, strict=True)
    reason = fields.String(required=True, validate=REASON)
    on_pending = ON_PENDING


class CancelSchema(Schema):
    reason = fields.String(required=True, validate=REASON)


class DryRunSchema(Schema):
    at = AwareDateTime(load_default=None)


class ExplainSchema(Schema):
    organization_id = fields.String(load_default=None, validate=validate.Length(1, 64))
    client_id = fields.String(load_default=None, validate=validate.Length(1, 64))
    person_id = fields.String(load_default=None, validate=validate.Length(1, 64))
    model = fields.String(load_default=None, validate=validate.Length(1, 64))
    tiers = fields.List(fields.String(validate=validate.Length(1, 64)), load_default=None,
                        validate=validate.Length(1, 200))
    at = AwareDateTime(load_default=None)
    dpop_bound = StrictBoolean(load_default=False, metadata={
        "description": "Decide for a DPoP-bound token (a tier's sender constraint); "
                       "default: a bearer token"})


class RevocationFiltersSchema(Schema):
    organization_id = fields.String(load_default=None, validate=validate.Length(1, 64))
    client_id = fields.String(load_default=None, validate=validate.Length(1, 64))
    person_id = fields.String(load_default=None, validate=validate.Length(1, 64))
    tier = fields.String(load_default=None, validate=validate.Length(1, 64))


class RevokeTokensSchema(RevocationFiltersSchema):
    reason = fields.String(required=True, validate=REASON)


class PreviewSchema(Schema):
    live = fields.Integer(metadata={"description": "live tokens the filters match now"})


class RevokedSchema(Schema):
    revoked = fields.Integer()


class FreeFormSchema(Schema):
    """Documented by example in the README (explain, dry run, re-imposition results)."""

    class Meta:
        unknown = "include"


class PolicyChangeRequestSchema(Schema):
    id = fields.String()
    action = fields.String(metadata={"description": "activate, schedule, rollback, reimpose "
                                                    "or allowlist"})
    params = fields.Dict()
    reason = fields.String()
    requested_by = fields.String()
    requested_at = fields.DateTime()
    expires_at = fields.DateTime()
    state = fields.String(metadata={"description": "pending, approved, rejected or withdrawn"})
    decided_by = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    result = fields.Dict(allow_none=True)


class DecideSchema(Schema):
    reason = fields.String(required=True, validate=REASON)


class BreakGlassCreateSchema(Schema):
    tiers = fields.List(fields.String(validate=validate.Length(1, 64)), required=True,
                        validate=validate.Length(1, 200))
    reason = fields.String(required=True, validate=REASON)
    on_pending = ON_PENDING


class BreakGlassSchema(Schema):
    id = fields.String()
    tiers = fields.List(fields.String())
    reason = fields.String()
    broken_by = fields.String()
    broken_at = fields.DateTime()
    previous_version = fields.Integer()
    version = fields.Integer()
    lapse_activation_id = fields.Integer()
    deadline = fields.DateTime()
    state = fields.String(metadata={"description": "pending, confirmed, reverted, or lapsed "
                                                   "(its deadline passed undecided)"})
    decided_by = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decision_reason = fields.String(allow_none=True)


class TierSchema(Schema):
    name = fields.String()
    description = fields.String()
    status = fields.String()
    trust_levels = fields.List(fields.String())
    citizenship = fields.Dict(allow_none=True)
    allowlist = fields.List(fields.String())
    windows = fields.List(fields.Dict())
    max_token_lifetime = fields.Integer(allow_none=True)
    sender_constraint = fields.String(allow_none=True)


class TierRevokeSchema(Schema):
    on_pending = ON_PENDING


class TierGrantSchema(TierRevokeSchema):
    tier = fields.String(required=True, validate=validate.Length(1, 64))


def shown_request(row: PolicyChangeRequest, now: datetime) -> dict[str, Any]:
    """A change request's columns as shown at ``now``: its state told (``expired``)."""
    return {**{c: getattr(row, c) for c in PolicyChangeRequestSchema().fields},
            "state": row.state_at(now)}


def shown_glass(row: BreakGlass, now: datetime) -> dict[str, Any]:
    """A break-glass's columns as shown at ``now``: its state told (``lapsed``)."""
    return {**{c: getattr(row, c) for c in BreakGlassSchema().fields},
            "state": row.state_at(now)}
