"""Approvals in the console: policy changes waiting for a second admin (approve, reject or
withdraw), and the break-glass kill switch (break it, confirm it, revert it)."""

from __future__ import annotations

from datetime import timedelta

from flask import Response, redirect, url_for

from ...admins.roles import Permission
from ...operations import break_glass, policy_changes
from ...policy import approvals, changes, service
from ...policy.schemas import BreakGlassCreateSchema, DecideSchema
from ..admin.auth import transaction
from ..authority import actor
from ..services import services
from .forms import form
from .pages import render
from .session import console, console_blueprint

blueprint = console_blueprint("console_changes", __name__)
#: What the approvals page lists as decided (an expired request too: nobody may any more).
DECIDED = [s for s in approvals.STATES if s != "pending"]


@blueprint.get("/approvals", endpoint="changes")
@console(Permission.READ)
def waiting() -> Response:
    now = actor().now
    with services().db.sessions() as session:
        latest = service.latest(session).document
        return render("console/changes.html",
                      pending=approvals.list_requests(session, now=now, states=["pending"],
                                                      limit=100).items,
                      decided=[(r, r.state_at(now)) for r in approvals.list_requests(
                          session, now=now, states=DECIDED, limit=20).items],
                      glasses=[(g, g.state_at(now))
                               for g in break_glass.list_all(session, limit=20).items],
                      tiers=sorted(latest["tiers"]), now=now)


@blueprint.get("/approvals/<request_id>")
@console(Permission.READ)
def change(request_id: str) -> Response:
    now = actor().now
    with services().db.sessions() as session:
        row = approvals.get(session, request_id)
        active = service.active_version(session, now)
        version = row.params.get("version")
        diff = (changes.diff(service.get_version(session, active).document,
                             service.get_version(session, version).document)
                if version is not None and active is not None else None)
        return render("console/change.html", row=row, diff=diff, active=active,
                      expired=row.state == "pending" and row.expires_at <= now)


@blueprint.post("/approvals/<request_id>/approve")
@console(Permission.APPROVE_POLICY)
def approve(request_id: str) -> Response:
    body = form(DecideSchema())
    with transaction() as session:
        policy_changes.approve(session, actor(), request_id, body["reason"])
    return redirect(url_for(".change", request_id=request_id, ok="Approved and applied."))


@blueprint.post("/approvals/<request_id>/reject")
@console(Permission.APPROVE_POLICY, Permission.EDIT_POLICY)
def reject(request_id: str) -> Response:
    body = form(DecideSchema())
    with transaction() as session:
        state = policy_changes.reject(session, actor(), request_id, body["reason"]).request
        done = state.state if state else "decided"
    return redirect(url_for(".change", request_id=request_id, ok=f"Request {done}."))


@blueprint.post("/break-glass")
@console(Permission.BREAK_GLASS)
def break_the_glass() -> Response:
    body = form(BreakGlassCreateSchema(), lists=("tiers",))
    settings = services().settings
    with transaction() as session:
        row = break_glass.break_glass(
            session, actor(), tiers=body["tiers"], reason=body["reason"],
            window=timedelta(seconds=settings.break_glass_window),
            on_pending=body["on_pending"], notify=settings.notify_url)
        glass_id = row.id
    return redirect(url_for(".glass", glass_id=glass_id,
                            ok="Kill switch applied. A second admin must confirm it."))


@blueprint.get("/break-glass/<glass_id>")
@console(Permission.READ)
def glass(glass_id: str) -> Response:
    now = actor().now
    with services().db.sessions() as session:
        row = break_glass.get(session, glass_id)
        return render("console/glass.html", row=row, state=row.state_at(now))


@blueprint.post("/break-glass/<glass_id>/confirm")
@console(Permission.APPROVE_POLICY)
def confirm_glass(glass_id: str) -> Response:
    body = form(DecideSchema())
    with transaction() as session:
        break_glass.confirm(session, actor(), glass_id, body["reason"],
                            notify=services().settings.notify_url)
    return redirect(url_for(".glass", glass_id=glass_id, ok="Confirmed: it stays in force."))


@blueprint.post("/break-glass/<glass_id>/revert")
@console(Permission.BREAK_GLASS)
def revert_glass(glass_id: str) -> Response:
    body = form(DecideSchema())
    with transaction() as session:
        break_glass.revert(session, actor(), glass_id, body["reason"],
                           notify=services().settings.notify_url)
    return redirect(url_for(".glass", glass_id=glass_id,
                            ok="Reverted: the policy before it is in force again."))
