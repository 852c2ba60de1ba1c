from marshmallow import Schema, fields


class OrganizationSchema(Schema):
    id = fields.String()
    name = fields.String()
    status = fields.String()
    trust_level = fields.String()
    tiers = fields.List(fields.String())
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
