"""Admins in the console (owners only): who may do what, their roles, their API keys (a new
key is shown once), sign-in links."""

from __future__ import annotations

from flask import Response, redirect, request, url_for

from ...admins import service as admins
from ...admins import sessions
from ...admins.roles import GRANTS, ROLES, Permission
from ...admins.schemas import AdminCreateSchema, AdminUpdateSchema
from ..admin.auth import transaction
from ..authority import actor
from ..services import services
from .forms import form
from .pages import render
from .session import console, console_blueprint

blueprint = console_blueprint("console_admins", __name__)


@blueprint.get("/admins", endpoint="admins")
@console(Permission.MANAGE_ADMINS)
def admin_list() -> Response:
    with services().db.sessions() as session:
        return render("console/admins.html", admins=admins.list_admins(session, limit=500).items,
                      keys=admins.list_keys(session, live=True, limit=1000).items,
                      roles=ROLES, grants=GRANTS,
                      links=services().settings.login_links_enabled)


@blueprint.post("/admins/<name>/keys")
@console(Permission.MANAGE_ADMINS)
def issue_key(name: str) -> Response:
    """A new API key for ``name``, shown on this page once (never stored, never again)."""
    roles = request.form.getlist("roles") or None
    with transaction() as session:
        issued = admins.issue(session, actor(), name, roles)
        facts = [("Key id", issued.key.id), ("Roles", ", ".join(sorted(issued.key.roles))),
                 ("Key", issued.secret)]
    return render("console/secret.html", heading=f"A new API key for {name}", facts=facts,
                  usage="Send it as Authorization: Bearer <key> to the admin API.",
                  back=(url_for(".admins"), "Back to the admins"))


@blueprint.post("/admin-keys/<key_id>/revoke")
@console(Permission.MANAGE_ADMINS)
def revoke_key(key_id: str) -> Response:
    with transaction() as session:
        admins.revoke(session, actor(), key_id)
    return redirect(url_for(".admins", ok=f"Admin key {key_id} revoked."))


@blueprint.post("/admins")
@console(Permission.MANAGE_ADMINS)
def add() -> Response:
    body = form(AdminCreateSchema(), lists=("roles",))
    with transaction() as session:
        admins.add(session, actor(), body.pop("name"), body.pop("roles"), **body)
    return redirect(url_for(".admins", ok="Admin added."))


@blueprint.post("/admins/<name>")
@console(Permission.MANAGE_ADMINS)
def update(name: str) -> Response:
    # The form always says the admin's whole role set and whether it is disabled (a box).
    body = form(AdminUpdateSchema(), lists=("roles",), extra={
        "roles": request.form.getlist("roles"),
        "status": "disabled" if request.form.get("status") == "disabled" else "active"})
    with transaction() as session:
        admins.update(session, actor(), name, **body)
    return redirect(url_for(".admins", ok=f"Admin {name} updated."))


@blueprint.post("/admins/<name>/login-link")
@console(Permission.MANAGE_ADMINS)
def login_link(name: str) -> Response:
    settings = services().settings
    with transaction() as session:
        token = sessions.issue_login_link(session, actor(), name,
                                          enabled=settings.login_links_enabled)
    return render("console/link_made.html", name=name,
                  url=sessions.link_url(settings.issuer, token),
                  minutes=int(sessions.LINK_LIFETIME.total_seconds() // 60))
