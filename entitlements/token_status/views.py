"""GET /status-lists/<id> (status list tokens), GET /status-lists (their URIs) and
GET /policy (the signed policy snapshot): what gateways poll, with ETags."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, jsonify, request

from ..gateway.status_list import MEDIA_TYPE as STATUS_LIST_MEDIA_TYPE
from ..published import Published
from ..token_status.publisher import status_list_uri

blueprint = Blueprint("published", __name__)



MAX_LIST_ID = 2**31 - 1  # the column is a 32-bit integer


@blueprint.get("/status-lists/<int:list_id>")
def status_list(list_id: int) -> Response:
    if list_id > MAX_LIST_ID:
        abort(404)
    published = current_app.extensions["entitlements.status_lists"].published(list_id)
    if published is None:
        abort(404)
    return _conditional(published, STATUS_LIST_MEDIA_TYPE)


@blueprint.get("/status-lists")
def status_lists() -> Response:
    settings = current_app.extensions["entitlements.settings"]
    ids = current_app.extensions["entitlements.status_lists"].list_ids()
    return jsonify(status_lists=[status_list_uri(settings, i) for i in ids])


@blueprint.get("/policy")
def policy_snapshot() -> Response:
    return _conditional(current_app.extensions["entitlements.policy_snapshot"].published(),
                        "application/jwt")


def _conditional(published: Published, media_type: str) -> Response:
    response = Response(published.token, mimetype=media_type)
    response.set_etag(published.etag, weak=True)
    response.cache_control.no_cache = True  # revalidate every time: changes must show at once
    return response.make_conditional(request)
