"""The entitlement policy as data: tiers with their rules, and the model catalog.

A document is JSON (admins write it, versions store it); ``compile_policy`` validates it
and turns it into the frozen, indexed form the decision function reads. Validation is
whole-document: unknown tiers, dangling fallbacks, fallback cycles, chains that do not end
in a model every verified organization may use, and windows that end before they start are
all refused with a message naming the culprit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..base.errors import InvalidInput
from ..base.fields import AwareDateTime
from ..kernel.assurance import ASSURANCE_LEVELS
from ..kernel.policy import (
    SENDER_CONSTRAINTS,
    VERIFIED_LEVELS,
    Model,
    Policy,
    TierRule,
    compile_document,
)
from ..organizations.models import TrustLevel

TIER_STATUSES = ("open", "allowlist_only", "suspended")
#: What a client-credentials (organization) subject needs for a tier that requires
#: citizenship: nothing more, the organization's attestation that all its users are
#: citizens, or nothing will do (person tokens only).
ORGANIZATION_SUBJECTS = ("allow", "attestation", "deny")
NAME = validate.Regexp(r"^[a-z0-9][a-z0-9._-]{0,63}$",
                       error="names are 1 to 64 of a-z, 0-9, '.', '_' and '-'")
MAX_TIERS, MAX_MODELS, MAX_ALLOWLIST, MAX_WINDOWS = 200, 2000, 50_000, 20


class _WindowSchema(Schema):
    starts_at = AwareDateTime(required=True)
    ends_at = AwareDateTime(load_default=None)
    trust_levels = fields.List(fields.String(validate=validate.OneOf(list(TrustLevel))),
                               load_default=None, allow_none=True,
                               validate=validate.Length(min=1), metadata={
                                   "description": "Who the window admits; absent: everyone"})

    @validates_schema
    def _ordered(self, data: dict[str, Any], **_: Any) -> None:
        if data["ends_at"] is not None and data["ends_at"] <= data["starts_at"]:
            raise ValidationError("a window must end after it starts", "ends_at")


class _CitizenshipSchema(Schema):
    nationalities = fields.List(fields.String(validate=validate.Regexp(r"^[A-Z]{2}$")),
                                required=True, validate=validate.Length(1, 250))
    min_level = fields.String(load_default="substantial",
                              validate=validate.OneOf(ASSURANCE_LEVELS))
    organization_subjects = fields.String(load_default="attestation",
                                          validate=validate.OneOf(ORGANIZATION_SUBJECTS))


class _Names(fields.List):
    """A list of names of 1 to 64 characters: an allowlist, of up to ``MAX_ALLOWLIST``
    organizations, checked and copied in one pass; the per-item field runs only for a list
    that fails, to name the item at fault (a one-organization edit of a long allowlist must
    not cost a field call per organization)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(fields.String(validate=validate.Length(1, 64)), **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list[Any]:
        if _strings(value) and {*map(len, value)} <= _NAME_LENGTHS:
            return list(value)
        return super()._deserialize(value, attr, data, **kwargs)

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> list[Any] | None:
        if _strings(value):
            return list(value)
        return super()._serialize(value, attr, obj, **kwargs)


_NAME_LENGTHS = frozenset(range(1, 65))


def _strings(value: Any) -> bool:
    """Whether ``value`` is a list of str (and nothing else)."""
    return type(value) is list and {*map(type, value)} <= {str}


class _TierSchema(Schema):
    description = fields.String(load_default="", validate=validate.Length(max=500))
    status = fields.String(load_default="open", validate=validate.OneOf(TIER_STATUSES))
    trust_levels = fields.List(fields.String(validate=validate.OneOf(list(TrustLevel))),
                               load_default=lambda: sorted(VERIFIED_LEVELS))
    citizenship = fields.Nested(_CitizenshipSchema, load_default=None, allow_none=True)
    allowlist = _Names(load_default=list, validate=validate.Length(max=MAX_ALLOWLIST))
    windows = fields.List(fields.Nested(_WindowSchema), load_default=list,
                          validate=validate.Length(max=MAX_WINDOWS))
    max_token_lifetime = fields.Integer(load_default=None, allow_none=True, strict=True,
                                        validate=validate.Range(30, 86400))
    sender_constraint = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(SENDER_CONSTRAINTS),
        metadata={"description": "dpop: granted only in DPoP-bound tokens (RFC 9449)"})


class _ModelSchema(Schema):
    tier = fields.String(required=True)
    fallback = fields.String(load_default=None, allow_none=True)
    released_at = AwareDateTime(load_default=None, allow_none=True)


class PolicyDocumentSchema(Schema):
    tiers = fields.Dict(keys=fields.String(validate=NAME), values=fields.Nested(_TierSchema),
                        required=True, validate=validate.Length(1, MAX_TIERS))
    models = fields.Dict(keys=fields.String(validate=NAME), values=fields.Nested(_ModelSchema),
                         load_default=dict, validate=validate.Length(max=MAX_MODELS))


def load_document(raw: Any) -> dict[str, Any]:
    """Validate a policy document's shape; InvalidInput names every field at fault."""
    if not isinstance(raw, dict):
        raise InvalidInput("a policy document is a JSON object with 'tiers' and 'models'")
    try:
        return PolicyDocumentSchema().load(raw)
    except ValidationError as error:
        where = _first_message(error.normalized_messages())
        raise InvalidInput(f"the policy document is invalid: {where}", code="invalid_policy"
                           ) from None


def compile_policy(version: int, raw: dict[str, Any], *, now: datetime | None = None
                   ) -> Policy:
    """Compile a document. With ``now`` (a new version), the catalog is checked too: a
    stored version is never refused on load."""
    document = dump_document(load_document(raw))
    policy = compile_document(version, document)
    if now is not None:
        _check_catalog(policy.tiers, policy.models, now)
    return policy


def dump_document(doc: dict[str, Any]) -> dict[str, Any]:
    """The canonical JSON form of a loaded document (what versions store and diff)."""
    return PolicyDocumentSchema().dump(doc)


def _check_catalog(tiers: dict[str, TierRule], models: dict[str, Model], now: datetime
                   ) -> None:
    for model in models.values():
        if model.tier not in tiers:
            raise _catalog_error(f"model {model.id!r} names unknown tier {model.tier!r}")
        if model.fallback is not None and model.fallback not in models:
            raise _catalog_error(f"model {model.id!r} falls back to unknown model "
                                 f"{model.fallback!r}")
    for model in models.values():
        _check_chain(model, tiers, models, now)


def _check_chain(model: Model, tiers: dict[str, TierRule], models: dict[str, Model],
                 now: datetime) -> None:
    seen = [model.id]
    current = model
    while current.fallback is not None:
        current = models[current.fallback]
        if current.id in seen:
            raise _catalog_error("fallback cycle: " + " -> ".join([*seen, current.id]))
        seen.append(current.id)
    released = current.released_at is None or current.released_at <= now
    if not (tiers[current.tier].universal and released):
        raise _catalog_error(
            f"the fallback chain of {model.id!r} ends in {current.id!r}, which not every "
            "verified organization may use (its tier must be open to every verified trust "
            "level, without citizenship rule, windows or sender constraint, and the model "
            "released)")


def _catalog_error(message: str) -> InvalidInput:
    return InvalidInput(message, code="invalid_catalog")


def _first_message(messages: Any, path: str = "") -> str:
    """The first error, at its place in the document (``tiers.restricted.status``: the
    ``value`` level marshmallow adds under a dictionary's key is left out)."""
    if isinstance(messages, dict):
        key, value = next(iter(messages.items()))
        if key == "value" and path:
            return _first_message(value, path)
        return _first_message(value, f"{path}.{key}" if path else str(key))
    if isinstance(messages, list) and messages:
        return _first_message(messages[0], path)
    return f"{path}: {messages}"
