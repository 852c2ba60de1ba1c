"""What anyone may read, with cache validators: the discovery documents, the JWKS, the signed
policy snapshot and the token status lists gateways poll."""

from __future__ import annotations

from flask import Response, abort, jsonify, request
from werkzeug.http import http_date

from ..base.published import Published
from ..kernel.status_list import MEDIA_TYPE as STATUS_LIST_MEDIA_TYPE
from ..oauth.metadata import server_metadata
from ..reports import checkpoints
from ..tokens.status_lists import status_list_uri
from .errors import Family, FamilyBlueprint
from .services import services

blueprint = FamilyBlueprint("published", __name__, family=Family.PROBLEM)
MAX_LIST_ID = 2**31 - 1  # the column is a 32-bit integer


@blueprint.get("/.well-known/oauth-authorization-server")
@blueprint.get("/.well-known/openid-configuration")
def metadata() -> Response:
    found = services()
    tiers = found.policies.active(found.clock.now()).tiers
    response = jsonify(server_metadata(found.settings, tiers))
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response


@blueprint.get("/jwks.json")
def jwks() -> Response:
    found = services()
    response = jsonify(found.keys.get().jwks(found.clock.now()))
    response.cache_control.public = True
    response.cache_control.max_age = found.settings.jwks_max_age
    response.add_etag()
    return response.make_conditional(request)


@blueprint.get("/status-lists/<int:list_id>")
def status_list(list_id: int) -> Response:
    if list_id > MAX_LIST_ID:
        abort(404)
    published = services().status_lists.published(list_id)
    if published is None:
        abort(404)
    return _conditional(published, STATUS_LIST_MEDIA_TYPE)


@blueprint.get("/status-lists")
def status_lists() -> Response:
    found = services()
    return jsonify(status_lists=[status_list_uri(found.settings, i)
                                 for i in found.status_lists.list_ids()])


@blueprint.get("/policy")
def policy_snapshot() -> Response:
    return _conditional(services().snapshot.published(), "application/jwt")


@blueprint.get("/audit/checkpoints")
def audit_checkpoints() -> Response:
    """The newest signed checkpoints of the audit chains, for anyone to keep a copy of."""
    with services().db.sessions() as session:
        response = jsonify(checkpoints=checkpoints.published(session))
    response.cache_control.public = True
    response.cache_control.max_age = 60
    return response


@blueprint.after_request
def _seen_by_gateways(response: Response) -> Response:
    """When the documents gateways poll were last served (the console's freshness)."""
    if request.endpoint in POLLED and response.status_code in (200, 304):
        found = services()
        found.polls[POLLED[request.endpoint]] = found.clock.now()
    return response


POLLED = {"published.policy_snapshot": "policy", "published.status_list": "status_lists"}


#: Revalidate every time: a change must show at the next poll.
CACHE_CONTROL = "no-cache"


def _conditional(published: Published, media_type: str) -> Response:
    if _still_held(published.etag):  # most polls: the 304, built without the document
        return Response(status=304, headers={"ETag": f'W/"{published.etag}"',
                                             "Cache-Control": CACHE_CONTROL,
                                             "Date": http_date()})
    response = Response(published.token, mimetype=media_type)
    response.set_etag(published.etag, weak=True)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response.make_conditional(request)


def _still_held(etag: str) -> bool:
    """Whether the caller's If-None-Match names this ETag (weak comparison) or ``*``, with no
    If-Match to weigh: the case ``make_conditional`` would answer 304, with the same
    headers."""
    return ("HTTP_IF_NONE_MATCH" in request.environ and "HTTP_IF_MATCH" not in request.environ
            and request.method in ("GET", "HEAD") and request.if_none_match.contains_weak(etag))
