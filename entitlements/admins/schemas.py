from marshmallow import Schema, fields, validate

from .roles import ROLES

ROLE = fields.String(validate=validate.OneOf(ROLES))


class AdminSchema(Schema):
    name = fields.String()
    roles = fields.List(fields.String())
    email = fields.String(allow_none=True)
    sso_subject = fields.String(allow_none=True)
    status = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class AdminCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 100))
    roles = fields.List(ROLE, required=True, validate=validate.Length(1, len(ROLES)))
    email = fields.String(load_default=None, validate=validate.Length(3, 320))
    sso_subject = fields.String(load_default=None, validate=validate.Length(1, 255))


class AdminUpdateSchema(Schema):
    roles = fields.List(ROLE, load_default=None, validate=validate.Length(1, len(ROLES),
                        error="give an admin at least one role"))
    status = fields.String(load_default=None, validate=validate.OneOf(("active", "disabled")))
    email = fields.String(load_default=None, validate=validate.Length(0, 320), metadata={
        "description": "'' clears it"})
    sso_subject = fields.String(load_default=None, validate=validate.Length(0, 255))


class AdminKeySchema(Schema):
    id = fields.String()
    name = fields.String()
    roles = fields.List(fields.String())
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)


class AdminKeyCreateSchema(Schema):
    roles = fields.List(ROLE, load_default=None, validate=validate.Length(1, len(ROLES)),
                        metadata={"description": "default: every role the admin holds"})


class IssuedAdminKeySchema(AdminKeySchema):
    key = fields.String(metadata={"description": "the key itself, shown this once"})
