"""/admin/audit: search the audit log and check its hash chains."""

from __future__ import annotations

from flask import Response, jsonify
from marshmallow import Schema, fields, post_load, validate

from ...admins.roles import Permission
from ...audit import service as audit
from ...audit.schemas import AuditEventSchema, ChainReportSchema, CheckpointReportSchema
from ...audit.targets import KINDS
from ...base.fields import AwareDateTime
from ...reports import checkpoints
from ...signing.documents import store_keys
from ..services import services
from .auth import admin_blueprint, database, requires
from .described import described
from .listing import PageQuerySchema, page_response, query_args

blueprint = admin_blueprint("admin_audit", __name__)


class AuditQuerySchema(PageQuerySchema):
    since = AwareDateTime(load_default=None, metadata={"description": "from (included)"})
    until = AwareDateTime(load_default=None, metadata={"description": "until (excluded)"})
    actor = fields.String(load_default=None, validate=validate.Length(1, 200))
    action = fields.String(load_default=None, validate=validate.Length(1, 64), metadata={
        "description": "an action, or a prefix and * (policy.*)"})
    target = fields.String(load_default=None, validate=validate.Length(1, 200))
    target_kind = fields.String(load_default=None, validate=validate.OneOf(KINDS))
    organization_id = fields.String(load_default=None, validate=validate.Length(1, 64))
    outcome = fields.String(load_default=None, validate=validate.OneOf(("success", "failure")))

    @post_load
    def _query(self, data: dict, **_: object) -> dict:
        page = {"cursor": data.pop("cursor"), "limit": data.pop("limit")}
        return {"query": audit.EventQuery(**data), **page}


@blueprint.get("/audit")
@described("Search the audit log, newest first, across every stream",
           query=AuditQuerySchema, answer=AuditEventSchema, page=True)
@requires(Permission.READ)
def list_events() -> Response:
    args = query_args(AuditQuerySchema())
    with database().sessions() as session:
        return page_response(audit.search_events(session, args["query"], cursor=args["cursor"],
                                                 limit=args["limit"]), AuditEventSchema())


class VerifyQuerySchema(Schema):
    checkpoints = fields.Boolean(load_default=False, metadata={
        "description": "also check every tip the signed checkpoints state (the database's, "
                       "and the copies in ENTITLEMENTS_CHECKPOINT_DIR and _BUCKET)"})


@blueprint.get("/audit/verify")
@described("Check every hash chain (and, with checkpoints=true, every signed checkpoint's tips)",
           query=VerifyQuerySchema, answer=ChainReportSchema)
@requires(Permission.READ)
def verify() -> Response:
    with_checkpoints = query_args(VerifyQuerySchema())["checkpoints"]
    found = services()
    with database().sessions() as session:
        chain = ChainReportSchema().dump(audit.verify_chain(session))
        if with_checkpoints:
            report = checkpoints.verify(
                session, checkpoints.known(session, found.anchors),
                store_keys(found.key_store))
            chain["checkpoints"] = CheckpointReportSchema().dump(report)
            chain["ok"] = chain["ok"] and report.ok
    return jsonify(chain)


@blueprint.get("/audit/checkpoints")
@described("The newest signed checkpoints of the audit chains", conflicts=False)
@requires(Permission.READ)
def list_checkpoints() -> Response:
    with database().sessions() as session:
        return jsonify(checkpoints=checkpoints.published(session))


@blueprint.post("/audit/checkpoints")
@described("Make this period's signed checkpoint now (unless made) and copy the newest "
           "outside the database", conflicts=False)
@requires(Permission.MANAGE_KEYS)
def make_checkpoint() -> tuple[Response, int]:
    found = services()
    made = checkpoints.checkpoint_now(
        found.db, found.keys.get(), issuer=found.settings.issuer, now=found.clock.now(),
        interval=found.settings.checkpoint_interval, places=found.anchors)
    return jsonify(made), 201 if made["made"] else 200
