"""Signing keys in the console (rotate, revoke) and the model gateways tokens may name."""

from __future__ import annotations

from flask import Response, redirect, url_for

from ...admins.roles import Permission
from ...kernel.claims import SIGNING_ALGORITHMS
from ...resources import service as resources
from ...signing import service as signing
from ..admin.auth import transaction
from ..admin.keys import (
    KeyRevokeSchema,
    ResourceCreateSchema,
    RotateSchema,
    revoked,
    rotated,
)
from ..authority import actor
from ..services import services
from .forms import form
from .pages import render
from .session import console, console_blueprint

blueprint = console_blueprint("console_keys", __name__)


@blueprint.get("/keys", endpoint="keys")
@console(Permission.READ)
def key_list() -> Response:
    found = services()
    with found.db.sessions() as session:
        return render("console/keys.html", algorithms=SIGNING_ALGORITHMS,
                      keys=signing.described(session, actor().now, found.settings.max_token_ttl),
                      resources=resources.list_all(session, limit=500).items,
                      prepublish=found.settings.key_prepublish_seconds)


@blueprint.post("/keys/rotate")
@console(Permission.MANAGE_KEYS)
def rotate() -> Response:
    body = form(RotateSchema(), flags=("now",))
    info = rotated(body["alg"], now=body["now"])
    return redirect(url_for(".keys", ok=f"Key {info.kid} published; it signs from "
                                        f"{info.activates_at.isoformat()}."))


@blueprint.post("/keys/<kid>/revoke")
@console(Permission.MANAGE_KEYS)
def revoke(kid: str) -> Response:
    body = form(KeyRevokeSchema())
    replacement = revoked(kid, body["reason"])
    then = f"; key {replacement.kid} signs from now" if replacement else ""
    return redirect(url_for(".keys", ok=f"Key {kid} revoked{then}."))


@blueprint.post("/resources")
@console(Permission.MANAGE_KEYS)
def add_resource() -> Response:
    body = form(ResourceCreateSchema(), flags=("default",))
    with transaction() as session:
        resources.register(session, actor(), body["identifier"],
                           body["name"] or body["identifier"], default=body["default"])
    return redirect(url_for(".keys", ok="Gateway registered."))
