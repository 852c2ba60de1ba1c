"""/admin/policy/changes: policy changes waiting for a second admin (two-person control),
and their approval or rejection; /admin/policy/break-glass: the emergency kill switch one
admin applies at once, and a second admin's confirmation or revert."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response, jsonify
from marshmallow import fields, validate
from sqlalchemy.orm import Session

from ...admins.roles import Permission
from ...operations import break_glass, policy_changes
from ...policy import approvals, changes, service
from ...policy.models import BreakGlass, PolicyChangeRequest
from ...policy.schemas import (
    BreakGlassCreateSchema,
    BreakGlassSchema,
    DecideSchema,
    PolicyChangeRequestSchema,
    shown_glass,
    shown_request,
)
from ..authority import actor
from ..services import services
from .auth import admin_blueprint, database, json_body, requires, transaction
from .described import described
from .listing import PageQuerySchema, page_response, query_args

blueprint = admin_blueprint("admin_approvals", __name__)


class ChangeQuerySchema(PageQuerySchema):
    state = fields.String(load_default=None, validate=validate.OneOf(approvals.STATES))


class ChangeDetailSchema(PolicyChangeRequestSchema):
    diff = fields.List(fields.Dict(), allow_none=True, metadata={
        "description": "what the version it activates changes from the active one"})


@blueprint.get("/policy/changes")
@described("List policy changes asked for under the two-person rule, newest first",
           query=ChangeQuerySchema, answer=PolicyChangeRequestSchema, page=True)
@requires(Permission.READ)
def list_changes() -> Response:
    args = query_args(ChangeQuerySchema())
    state = args.pop("state")
    with database().sessions() as session:
        page = approvals.list_requests(session, now=actor().now,
                                       states=[state] if state else [], **args)
        return page_response(page, PolicyChangeRequestSchema(), dump=with_state)


@blueprint.get("/policy/changes/<request_id>")
@described("Show a policy change request, with what it changes from the active policy",
           answer=ChangeDetailSchema)
@requires(Permission.READ)
def get_change(request_id: str) -> Response:
    with database().sessions() as session:
        row = approvals.get(session, request_id)
        return jsonify(ChangeDetailSchema().dump(detail(session, row)))


@blueprint.post("/policy/changes/<request_id>/approve")
@described("Approve another admin's policy change: it is applied now (two-person rule)",
           body=DecideSchema, answer=PolicyChangeRequestSchema)
@requires(Permission.APPROVE_POLICY)
def approve_change(request_id: str) -> Response:
    body = json_body(DecideSchema())
    with transaction() as session:
        outcome = policy_changes.approve(session, actor(), request_id, body["reason"])
        return jsonify(PolicyChangeRequestSchema().dump(outcome.request))


@blueprint.post("/policy/changes/<request_id>/reject")
@described("Reject a policy change, or withdraw your own",
           body=DecideSchema, answer=PolicyChangeRequestSchema)
@requires(Permission.APPROVE_POLICY, Permission.EDIT_POLICY)
def reject_change(request_id: str) -> Response:
    """A policy approver rejects it, or the editor who asked withdraws it."""
    body = json_body(DecideSchema())
    with transaction() as session:
        outcome = policy_changes.reject(session, actor(), request_id, body["reason"])
        return jsonify(PolicyChangeRequestSchema().dump(outcome.request))


@blueprint.post("/policy/break-glass")
@described("Emergency kill switch: suspend tiers now, by one admin; it lapses unless a second "
           "admin confirms it",
           body=BreakGlassCreateSchema, status=201, answer=BreakGlassSchema)
@requires(Permission.BREAK_GLASS)
def break_the_glass() -> tuple[Response, int]:
    body = json_body(BreakGlassCreateSchema())
    settings = services().settings
    with transaction() as session:
        row = break_glass.break_glass(
            session, actor(), tiers=body["tiers"], reason=body["reason"],
            window=timedelta(seconds=settings.break_glass_window),
            on_pending=body["on_pending"], notify=settings.notify_url)
        return jsonify(dump_glass(row)), 201


@blueprint.get("/policy/break-glass")
@described("List break-glass kill switches, newest first",
           query=PageQuerySchema, answer=BreakGlassSchema, page=True)
@requires(Permission.READ)
def list_break_glass() -> Response:
    page = query_args(PageQuerySchema())
    with database().sessions() as session:
        return page_response(break_glass.list_all(session, **page), BreakGlassSchema(),
                             dump=_with_state)


@blueprint.get("/policy/break-glass/<glass_id>")
@described("Show a break-glass kill switch", answer=BreakGlassSchema)
@requires(Permission.READ)
def get_break_glass(glass_id: str) -> Response:
    with database().sessions() as session:
        return jsonify(dump_glass(break_glass.get(session, glass_id)))


@blueprint.post("/policy/break-glass/<glass_id>/confirm")
@described("Confirm another admin's break-glass: it stays in force",
           body=DecideSchema, answer=BreakGlassSchema)
@requires(Permission.APPROVE_POLICY)
def confirm_break_glass(glass_id: str) -> Response:
    body = json_body(DecideSchema())
    with transaction() as session:
        row = break_glass.confirm(session, actor(), glass_id, body["reason"],
                                  notify=services().settings.notify_url)
        return jsonify(dump_glass(row))


@blueprint.post("/policy/break-glass/<glass_id>/revert")
@described("Revert a break-glass: the policy before it is active again now",
           body=DecideSchema, answer=BreakGlassSchema)
@requires(Permission.BREAK_GLASS)
def revert_break_glass(glass_id: str) -> Response:
    body = json_body(DecideSchema())
    with transaction() as session:
        row = break_glass.revert(session, actor(), glass_id, body["reason"],
                                 notify=services().settings.notify_url)
        return jsonify(dump_glass(row))


def detail(session: Session, row: PolicyChangeRequest) -> dict[str, Any]:
    """A request with what its version changes from the active policy (version actions)."""
    data = with_state(row)
    version = row.params.get("version")
    active = service.active_version(session, actor().now)
    data["diff"] = None
    if version is not None and active is not None:
        data["diff"] = changes.diff(service.get_version(session, active).document,
                                    service.get_version(session, version).document)[:200]
    return data


def with_state(row: PolicyChangeRequest) -> dict[str, Any]:
    return shown_request(row, services().clock.now())


def dump_glass(row: BreakGlass) -> dict[str, Any]:
    return BreakGlassSchema().dump(_with_state(row))


def _with_state(row: BreakGlass) -> dict[str, Any]:
    return shown_glass(row, services().clock.now())
