from marshmallow import Schema, ValidationError, fields, validate

from ..base.urls import is_secure_url
from .service import MAX_AUDIENCES


def _secure_issuer(value: str) -> None:
    if not is_secure_url(value) or value.endswith("/") or "?" in value:
        raise ValidationError("must be an https URL (http only on loopback), without a query "
                              "or a trailing slash")


class IdentityProviderSchema(Schema):
    id = fields.String()
    organization_id = fields.String()
    issuer = fields.String()
    audiences = fields.List(fields.String())
    jwks_uri = fields.String(allow_none=True)
    has_jwks = fields.Function(lambda row: row.jwks is not None)
    status = fields.String()
    sign_in = fields.Function(lambda row: None if row.authorization_endpoint is None else {
        "client_id": row.client_id, "has_client_secret": row.client_secret_sealed is not None,
        "authorization_endpoint": row.authorization_endpoint,
        "token_endpoint": row.token_endpoint})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class IdentityProviderCreateSchema(Schema):
    issuer = fields.String(required=True, validate=[validate.Length(max=300), _secure_issuer])
    audiences = fields.List(fields.String(validate=validate.Length(1, 300)), required=True,
                            validate=validate.Length(1, MAX_AUDIENCES))
    jwks = fields.Dict(load_default=None)
    jwks_uri = fields.String(load_default=None, validate=validate.Length(1, 500))


class IdentityProviderStatusSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(1, 500))


class SignInSchema(Schema):
    """Our client at the provider; the secret is sealed at rest and never shown again."""

    client_id = fields.String(required=True, validate=validate.Length(1, 255))
    client_secret = fields.String(load_default=None, validate=validate.Length(1, 500))
