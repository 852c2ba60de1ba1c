from marshmallow import Schema, fields, validate


class ConsentSchema(Schema):
    id = fields.Integer()
    person_id = fields.String()
    client_id = fields.String()
    scope = fields.String()
    granted_at = fields.DateTime()
    withdrawn_at = fields.DateTime(allow_none=True)


class WithdrawSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(1, 500))
