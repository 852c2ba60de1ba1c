from marshmallow import Schema, fields


class AuditEventSchema(Schema):
    stream = fields.String()
    seq = fields.Integer()
    at = fields.DateTime()
    actor = fields.String()
    actor_role = fields.String(allow_none=True)
    action = fields.String()
    target = fields.String(allow_none=True)
    target_kind = fields.String(allow_none=True)
    organization_id = fields.String(allow_none=True)
    outcome = fields.String()
    reason = fields.String(allow_none=True)
    details = fields.Dict()
    prev_hash = fields.String()
    hash = fields.String()


class ChainReportSchema(Schema):
    ok = fields.Boolean()
    checked = fields.Integer()
    broken_at = fields.Integer(allow_none=True)
    problem = fields.String(allow_none=True)
    stream = fields.String(allow_none=True)


class CheckpointReportSchema(Schema):
    ok = fields.Boolean()
    checked = fields.Integer(metadata={"description": "checkpoints whose signature verified"})
    problems = fields.List(fields.String())
