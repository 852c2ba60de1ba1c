from typing import Any

from marshmallow import Schema, fields, validate

from ..base.fields import StrictBoolean
from .models import AuthMethod, GrantType


class ClientSchema(Schema):
    client_id = fields.String()
    organization_id = fields.String()
    name = fields.String()
    auth_method = fields.String()
    jwks_uri = fields.String(allow_none=True)
    has_jwks = fields.Function(lambda c: c["jwks"] is not None)
    default_tiers = fields.List(fields.String(), allow_none=True)
    may_introspect = fields.Boolean()
    grant_types = fields.List(fields.String())
    redirect_uris = fields.List(fields.String(), allow_none=True)
    require_par = fields.Boolean()
    dpop_bound_access_tokens = fields.Boolean()
    status = fields.String()
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)


class ClientRegistrationSchema(ClientSchema):
    """The only response that carries the secret: shown once, never stored."""

    client_secret = fields.String(allow_none=True)


CLIENT_COLUMNS = ("client_id", "organization_id", "name", "auth_method", "jwks_uri", "jwks",
                  "default_tiers", "may_introspect", "grant_types", "redirect_uris",
                  "require_par", "dpop_bound_access_tokens", "status", "created_at", "revoked_at")


def client_columns(client: Any) -> dict[str, Any]:
    """A client's columns as shown, its grant types as it may use them."""
    return {**{name: getattr(client, name) for name in CLIENT_COLUMNS},
            "grant_types": list(client.allowed_grant_types)}


class ClientCreateSchema(Schema):
    organization_id = fields.String(required=True, validate=validate.Length(1, 64))
    name = fields.String(load_default="", validate=validate.Length(0, 200))
    auth_method = fields.String(load_default=AuthMethod.CLIENT_SECRET_BASIC.value,
                                validate=validate.OneOf([m.value for m in AuthMethod]))
    jwks = fields.Dict(load_default=None)
    jwks_uri = fields.String(load_default=None, validate=validate.Length(1, 500))
    default_tiers = fields.List(fields.String(validate=validate.Length(1, 64)),
                                load_default=None, validate=validate.Length(max=50))
    may_introspect = StrictBoolean(load_default=False)
    grant_types = fields.List(fields.String(validate=validate.OneOf([g.value for g in GrantType])),
                              load_default=None, validate=validate.Length(1, len(GrantType)))
    redirect_uris = fields.List(fields.String(validate=validate.Length(1, 500)),
                                load_default=None, validate=validate.Length(max=10))
    require_par = StrictBoolean(load_default=False)
    dpop_bound_access_tokens = StrictBoolean(load_default=False, metadata={
        "description": "Every token request must carry a DPoP proof (RFC 9449 5.2)"})


class RevokeSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(1, 500))
