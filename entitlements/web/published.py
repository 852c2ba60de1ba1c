"""What anyone may read, with cache validators: the discovery documents, the JWKS, the signed
policy snapshot and the token status lists gateways poll."""

from __future__ import annotations

from flask import Response, abort, jsonify, request

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
        services().polls[POLLED[request.endpoint]] = services().clock.now()
    return response


POLLED = {"published.policy_snapshot": "policy", "published.status_list": "status_lists"}


def _conditional(published: Published, media_type: str) -> Response:
    response = Response(published.token, mimetype=media_type)
    response.set_etag(published.etag, weak=True)
    response.cache_control.no_cache = True  # revalidate every time: changes must show at once
    return response.make_conditional(request)
