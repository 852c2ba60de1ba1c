from marshmallow import Schema, fields


class AuditEventSchema(Schema):
    stream = fields.String()
    seq = fields.Integer()
    at = fields.DateTime()
    actor = fields.String()
    action = fields.String()
    target = fields.String(allow_none=True)
    outcome = fields.String()
    reason = fields.String(allow_none=True)
    details = fields.Dict()
    hash = fields.String()


class ChainReportSchema(Schema):
    ok = fields.Boolean()
    checked = fields.Integer()
    broken_at = fields.Integer(allow_none=True)
    problem = fields.String(allow_none=True)
    stream = fields.String(allow_none=True)
