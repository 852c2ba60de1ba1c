"""/admin/audit: read the audit log and check its hash chains."""

from __future__ import annotations

from flask import Response, jsonify, request
from marshmallow import Schema, fields, validate

from ...audit import service as audit
from ...audit.schemas import AuditEventSchema, ChainReportSchema
from .auth import admin_blueprint, admin_required, database

blueprint = admin_blueprint("admin_audit", __name__)


class AuditQuerySchema(Schema):
    action = fields.String(load_default=None, validate=validate.Length(1, 64))
    target = fields.String(load_default=None, validate=validate.Length(1, 200))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


@blueprint.get("/audit")
@admin_required
def list_events() -> Response:
    query = AuditQuerySchema().load(request.args.to_dict())
    with database().sessions() as session:
        return jsonify(AuditEventSchema(many=True).dump(audit.list_events(session, **query)))


@blueprint.get("/audit/verify")
@admin_required
def verify() -> Response:
    with database().sessions() as session:
        return jsonify(ChainReportSchema().dump(audit.verify_chain(session)))
