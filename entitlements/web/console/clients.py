"""Every client in the console (each organization's page has its own, with the forms)."""

from __future__ import annotations

from flask import Response, request, url_for

from ...admins.roles import Permission
from ...clients import service as clients
from ...clients.schemas import client_columns
from ..services import services
from .pages import render
from .session import console, console_blueprint

blueprint = console_blueprint("console_clients", __name__)


@blueprint.get("/clients", endpoint="clients")
@console(Permission.READ)
def every_client() -> Response:
    with services().db.sessions() as session:
        page = clients.list_all(session, cursor=request.args.get("cursor"), limit=100)
        return render("console/clients.html", clients=[client_columns(c) for c in page.items],
                      next_url=page.next_cursor and url_for(".clients",
                                                            cursor=page.next_cursor))
