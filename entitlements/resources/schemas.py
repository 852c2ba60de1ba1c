from marshmallow import Schema, fields


class ResourceServerSchema(Schema):
    identifier = fields.String()
    name = fields.String()
    is_default = fields.Boolean()
    created_at = fields.DateTime()
