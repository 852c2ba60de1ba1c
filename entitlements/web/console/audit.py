"""The audit log in the console: search it by time range, actor, action, organization and
what events act on, across every stream; check its hash chains and signed checkpoints."""

from __future__ import annotations

from typing import Any

from flask import Response, request, url_for

from ...admins.roles import Permission
from ...audit import service as audit
from ...audit.targets import KINDS
from ...reports import checkpoints
from ...signing.documents import store_keys
from ..admin.audit import AuditQuerySchema
from ..services import services
from .forms import in_utc_unless_said
from .pages import render
from .session import console, console_blueprint

blueprint = console_blueprint("console_audit", __name__)
PAGE = 50


@blueprint.get("/audit", endpoint="audit")
@console(Permission.READ)
def search() -> Response:
    asked = {k: v.strip() for k, v in request.args.items() if v.strip()}
    times = {k: in_utc_unless_said(asked[k]) for k in ("since", "until") if k in asked}
    args = AuditQuerySchema().load({**asked, **times, "limit": asked.get("limit", PAGE)})
    with services().db.sessions() as session:
        page = audit.search_events(session, args["query"], cursor=args["cursor"],
                                   limit=args["limit"])
    next_url = page.next_cursor and url_for(".audit", **{**asked, "cursor": page.next_cursor})
    return render("console/audit.html", events=page.items, asked=asked, kinds=KINDS,
                  next_url=next_url)


@blueprint.get("/audit/verify")
@console(Permission.READ)
def verify() -> Response:
    found = services()
    with found.db.sessions() as session:
        chain = audit.verify_chain(session)
        known = checkpoints.known(session, found.anchors)
        anchored: Any = checkpoints.verify(session, known, store_keys(found.key_store))
    return render("console/verify.html", chain=chain, anchored=anchored)
