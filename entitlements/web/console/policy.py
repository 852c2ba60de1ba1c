"""The policy in the console: the version in force and the versions, one version with its
diff from the active one and its dry-run impact, the editor (a structured form, or the whole
document as JSON), activation now or later, re-imposition and rollback (each a policy change
a second admin approves), scheduled activations to keep or cancel, and explain."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, redirect, request, url_for
from marshmallow import EXCLUDE, Schema, fields, validate

from ...admins.roles import Permission
from ...base.errors import InvalidInput
from ...kernel.assurance import ASSURANCE_LEVELS
from ...kernel.policy import SENDER_CONSTRAINTS, VERIFIED_LEVELS
from ...operations import policy_changes
from ...organizations import service as organizations
from ...organizations.models import TrustLevel
from ...policy import changes, editor, impact, service
from ...policy.document import ORGANIZATION_SUBJECTS, TIER_STATUSES
from ...policy.explain import SubjectRef, explain
from ...policy.schemas import ActivateSchema, CancelSchema, ExplainSchema, RollbackSchema
from ..admin.auth import transaction
from ..authority import actor
from ..limits import MAX_JSON_DEPTH, json_depth
from ..services import services
from .forms import form
from .pages import render
from .session import console, console_blueprint

blueprint = console_blueprint("console_policy", __name__)
CHOICES = {"statuses": TIER_STATUSES, "trust_levels": [t.value for t in TrustLevel],
           "verified_levels": sorted(VERIFIED_LEVELS), "levels": ASSURANCE_LEVELS,
           "subjects": ORGANIZATION_SUBJECTS, "constraints": SENDER_CONSTRAINTS}


class NewVersionFormSchema(Schema):
    """The editor's own fields; the tiers' and models' fields are the editor's to read."""

    class Meta:
        unknown = EXCLUDE

    reason = fields.String(required=True, validate=validate.Length(1, 500))
    base_version = fields.Integer(required=True)
    document = fields.String(load_default=None, validate=validate.Length(max=1_000_000))


@blueprint.get("/policy", endpoint="policy")
@console(Permission.READ)
def overview() -> Response:
    now = actor().now
    with services().db.sessions() as session:
        active = service.active_version(session, now)
        return render("console/policy.html", active=active,
                      active_row=service.get_version(session, active) if active else None,
                      versions=service.list_versions(session, limit=50,
                                                     newest_first=True).items,
                      scheduled=service.pending_after(session, now))


@blueprint.get("/policy/versions/<int:number>")
@console(Permission.READ)
def version(number: int) -> Response:
    now = actor().now
    with services().db.sessions() as session:
        row = service.get_version(session, number)
        active = service.active_version(session, now)
        against = service.get_version(session, active).document if active else {}
        return render("console/version.html", row=row, active=active,
                      diff=changes.diff(against, row.document),
                      document=json.dumps(row.document, indent=2, sort_keys=True),
                      pending=service.pending_after(session, now))


@blueprint.get("/policy/versions/<int:number>/impact")
@console(Permission.READ)
def dry_run(number: int) -> Response:
    with services().db.sessions() as session:
        result = impact.dry_run(session, number, actor().now)
        names = organizations.names(session, (c["id"] for c in result["organizations"]))
    return render("console/impact.html", number=number, result=result, names=names)


@blueprint.get("/policy/edit")
@console(Permission.EDIT_POLICY)
def edit() -> Response:
    with services().db.sessions() as session:
        latest = service.latest(session)
        return render("console/editor.html", latest=latest, choices=CHOICES,
                      tiers=[editor.tier_fields(n, r)
                             for n, r in sorted(latest.document["tiers"].items())],
                      models=sorted(latest.document["models"].items()),
                      document=json.dumps(latest.document, indent=2, sort_keys=True))


@blueprint.post("/policy/versions")
@console(Permission.EDIT_POLICY)
def create_version() -> Response:
    """A new version from the structured form, or from the whole document as JSON."""
    body = form(NewVersionFormSchema(), ints=("base_version",))
    with transaction() as session:
        base = service.get_version(session, body["base_version"])
        if body["document"] is not None:
            document = _json(body["document"])
        else:
            document = editor.document_from_form(base.document, request.form.to_dict(flat=False))
        row = service.create_version(session, actor(), base_version=body["base_version"],
                                     reason=body["reason"], document=document)
        number = row.version
    return redirect(url_for(".version", number=number,
                            ok=f"Version {number} created; it is not active until activated."))


@blueprint.post("/policy/versions/<int:number>/activate")
@console(Permission.EDIT_POLICY)
def activate(number: int) -> Response:
    body = form(ActivateSchema(), flags=("revoke_disallowed",))
    action, params = policy_changes.activation(number, at=body["at"],
                                               on_pending=body["on_pending"],
                                               reimpose=body["revoke_disallowed"])
    return _change(action, params, body["reason"])


@blueprint.post("/policy/rollback")
@console(Permission.EDIT_POLICY)
def rollback() -> Response:
    body = form(RollbackSchema(), ints=("version",))
    return _change("rollback", {"version": body["version"], "on_pending": body["on_pending"]},
                   body["reason"])


@blueprint.post("/policy/activations/<int:activation_id>/cancel")
@console(Permission.EDIT_POLICY)
def cancel(activation_id: int) -> Response:
    body = form(CancelSchema())
    with transaction() as session:
        service.cancel(session, actor(), activation_id, body["reason"])
    return redirect(url_for(".policy", ok=f"Activation {activation_id} cancelled."))


@blueprint.route("/policy/explain", methods=["GET", "POST"])
@console(Permission.READ, once=False)
def explain_page() -> Response:
    """May an organization, client or person use a model or tiers, and why not."""
    if request.method == "GET":
        return render("console/explain.html", result=None, asked={})
    body = form(ExplainSchema(), lists=("tiers",), flags=("dpop_bound",))
    at = body["at"] or actor().now
    ref = SubjectRef(body["organization_id"], body["client_id"], body["person_id"])
    with services().db.sessions() as session:
        result = explain(session, services().policies.active(at), ref, at,
                         model=body["model"], tiers=body["tiers"],
                         dpop_bound=body["dpop_bound"])
    return render("console/explain.html", result=result, asked=request.form)


def _change(action: str, params: dict[str, Any], reason: str) -> Response:
    with transaction() as session:
        outcome = policy_changes.change(session, actor(), services().approval_rule, action,
                                        params, reason)
    if outcome.pending and outcome.request is not None:
        return redirect(url_for("console_changes.change", request_id=outcome.request.id,
                                ok="Asked: a second admin approves it under Approvals."))
    return redirect(url_for(".policy", ok=f"{action.capitalize()} done."))


def _json(text: str) -> dict[str, Any]:
    if json_depth(text.encode()) > MAX_JSON_DEPTH:
        raise InvalidInput(f"the document nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        document = json.loads(text)
    except ValueError as error:
        raise InvalidInput(f"the document is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise InvalidInput("the document must be a JSON object with tiers and models")
    return document


