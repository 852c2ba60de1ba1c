from marshmallow import Schema, fields


class SigningKeySchema(Schema):
    kid = fields.String()
    alg = fields.String()
    state = fields.String()
    created_at = fields.DateTime()
    activates_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
