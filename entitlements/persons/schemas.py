from marshmallow import Schema, fields, validate


class PersonSchema(Schema):
    id = fields.String()
    organization_id = fields.String()
    idp_issuer = fields.String(allow_none=True)
    idp_subject = fields.String(allow_none=True)
    created_at = fields.DateTime()


class PersonCreateSchema(Schema):
    idp_issuer = fields.Url(load_default=None, schemes={"https"}, require_tld=False,
                            validate=validate.Length(max=300))
    idp_subject = fields.String(load_default=None, validate=validate.Length(1, 300))
