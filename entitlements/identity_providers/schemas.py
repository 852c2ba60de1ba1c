from marshmallow import Schema, fields, validate

from .service import MAX_AUDIENCES


class IdentityProviderSchema(Schema):
    id = fields.String()
    organization_id = fields.String()
    issuer = fields.String()
    audiences = fields.List(fields.String())
    jwks_uri = fields.String(allow_none=True)
    has_jwks = fields.Function(lambda row: row.jwks is not None)
    status = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class IdentityProviderCreateSchema(Schema):
    issuer = fields.Url(required=True, schemes={"https"}, require_tld=False,
                        validate=validate.Length(max=300))
    audiences = fields.List(fields.String(validate=validate.Length(1, 300)), required=True,
                            validate=validate.Length(1, MAX_AUDIENCES))
    jwks = fields.Dict(load_default=None)
    jwks_uri = fields.String(load_default=None, validate=validate.Length(1, 500))


class IdentityProviderStatusSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(1, 500))
