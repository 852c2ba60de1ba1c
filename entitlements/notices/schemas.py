from marshmallow import Schema, fields


class NoticeSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    subject_id = fields.String()
    recipient = fields.String()
    created_at = fields.DateTime()
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime(allow_none=True, metadata={
        "description": "null once delivered, or given up on"})
    delivered_at = fields.DateTime(allow_none=True)
    last_error = fields.String(allow_none=True)
