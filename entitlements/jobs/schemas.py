from marshmallow import Schema, fields


class JobSchema(Schema):
    id = fields.String()
    kind = fields.String()
    requested_by = fields.String()
    params = fields.Dict()
    state = fields.String(metadata={"description": "queued, running, done, failed, or "
                                                   "interrupted (its process stopped)"})
    done = fields.Integer()
    total = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    result = fields.Dict(allow_none=True)
    error = fields.String(allow_none=True)
