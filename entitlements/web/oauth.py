"""The OAuth endpoints: /oauth/token, /oauth/introspect, /oauth/revoke, /oauth/par,
/oauth/device_authorization and /oauth/userinfo (RFC 6749 errors; RFC 6750 for userinfo).

Each checks the form (``guards``), hands the request to Authlib, and has its refusals audited
once by the error layer, with the client id the caller claimed (recorded, never trusted)."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error, UnauthorizedClientError
from authlib.oauth2.rfc6750 import InvalidTokenError
from flask import Response, jsonify, request

from ..kernel import claims as c
from ..kernel import dpop
from ..kernel.dpop import ProofRefused
from ..oauth.authorization_request import authorization_params, device_params
from ..oauth.dpop import DpopChallenge
from ..oauth.endpoints import find_token
from ..oauth.errors import ReasonedInvalidRequest
from ..oauth.supported import AUTH_METHODS, DEVICE_CODE, PUBLIC
from ..operations import signin as steps
from ..signin import devices, requests
from ..signin.errors import SignInRefused
from .callers import claimed_client_id, form_value
from .errors import Family, FamilyBlueprint, audits_refusals
from .guards import validate_form_request
from .services import services

#: The claims userinfo returns: who, their organization, their tiers and citizenship.
USERINFO = (c.SUBJECT, c.ORGANIZATION, c.ENTITLEMENTS, c.CITIZENSHIP)

blueprint = FamilyBlueprint("oauth", __name__, url_prefix="/oauth", family=Family.OAUTH,
                            no_store=True)


def _refusal_details(response: Response) -> dict[str, Any]:
    body = response.get_json(silent=True) or {}
    return {"claimed_client_id": claimed_client_id(), "reason": body.get("reason"),
            "grant_type": form_value("grant_type")}


@blueprint.post("/token")
@audits_refusals("grant.refused", _refusal_details)
def token() -> Response:
    validate_form_request(request, repeatable=frozenset({"resource"}))
    if not request.form.get("grant_type"):
        raise InvalidRequestError("Missing 'grant_type' parameter.")
    return services().oauth.token_response(request.headers.getlist(dpop.HEADER))


@blueprint.post("/introspect")
@audits_refusals("introspection.refused", _refusal_details)
def introspect() -> Response:
    validate_form_request(request)
    return services().oauth.create_endpoint_response("introspection")


@blueprint.post("/revoke")
@audits_refusals("revocation.refused", _refusal_details)
def revoke() -> Response:
    validate_form_request(request)
    return services().oauth.create_endpoint_response("revocation")


@blueprint.post("/par")
@audits_refusals("par.refused", _refusal_details)
def pushed_authorization_request() -> tuple[Response, int]:
    """RFC 9126: the client authenticates and pushes its authorization request, validated
    as the authorization endpoint would; the browser then carries only ``request_uri``."""
    validate_form_request(request, repeatable=frozenset({"resource"}))
    if "request_uri" in request.form:
        raise InvalidRequestError("'request_uri' cannot be pushed.")
    found = services()
    oauth = found.oauth
    client = oauth.authenticate_client(oauth.create_oauth2_request(request),
                                       [*AUTH_METHODS, PUBLIC], endpoint="par")
    grant = oauth.get_consent_grant(end_user=None)
    if grant.request.client.client_id != client.client_id:
        raise InvalidRequestError("'client_id' is not the authenticated client.")
    # RFC 9449 10.1: a proof with the pushed request binds its code to the proof's key.
    proof = oauth.proof_for(request.headers.getlist(dpop.HEADER),
                            found.settings.issuer + "/oauth/par")
    now = found.clock.now()
    try:
        params = authorization_params(grant.request.payload, grant.redirect_uri,
                                      tiers=found.policies.active(now).tiers,
                                      resources=found.resources.snapshot(),
                                      proof_jkt=proof.jkt if proof else None)
    except OAuth2Error as error:  # RFC 9126 2.3: answered to the client, never redirected
        error.redirect_uri = None
        raise
    with found.db.transaction() as session:
        request_uri, expires_in = requests.push(session, client_id=client.client_id,
                                                params=params, now=now)
    return jsonify(request_uri=request_uri, expires_in=expires_in), 201


@blueprint.route("/userinfo", methods=["GET", "POST"])
def userinfo() -> Response:
    """OIDC Core 5.3: what a person's live access token says of them, for the client that
    holds it (RFC 6750: the token in the Authorization header only). A DPoP-bound token
    comes with the DPoP scheme and a proof by its key (RFC 9449 7)."""
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    scheme, presented = scheme.lower(), presented.strip()
    if scheme not in ("bearer", "dpop") or not presented:
        raise InvalidTokenError("A Bearer or DPoP access token is required.",
                                realm="entitlements")
    oauth = services().oauth
    view = find_token(oauth, presented)
    if view is None or view.is_revoked() or view.is_expired() or c.ACTOR not in view.claims:
        raise InvalidTokenError("The access token is not a live token about a person.",
                                realm="entitlements")
    jkt = dpop.bound_thumbprint(view.claims)
    if jkt is None and scheme == "dpop":
        raise InvalidTokenError("The access token is not DPoP-bound: use the Bearer scheme.",
                                realm="entitlements")
    if jkt is not None:
        if scheme != "dpop":
            raise DpopChallenge(ProofRefused("dpop_bound_token_as_bearer"), None)
        oauth.resource_proof(request.headers.getlist(dpop.HEADER), method=request.method,
                             uri=oauth.settings.issuer + "/oauth/userinfo", token=presented,
                             jkt=jkt)
    return jsonify({name: view.claims[name] for name in USERINFO if name in view.claims})


@blueprint.post("/device_authorization")
@audits_refusals("device_authorization.refused", _refusal_details)
def device_authorization() -> Response:
    """RFC 8628 3.1: a device's request; the person confirms its user code at /device."""
    validate_form_request(request, repeatable=frozenset({"resource"}))
    found = services()
    oauth = found.oauth
    client = oauth.authenticate_client(oauth.create_oauth2_request(request),
                                       [*AUTH_METHODS, PUBLIC], endpoint="device_authorization")
    if not client.check_grant_type(DEVICE_CODE):
        raise UnauthorizedClientError("The client may not use the device flow.")
    now = found.clock.now()
    params = device_params(oauth.create_oauth2_request(request).payload,
                           tiers=found.policies.active(now).tiers,
                           resources=found.resources.snapshot())
    with found.db.transaction() as session:
        device_code, user_code = devices.start(session, client_id=client.client_id,
                                               params=params, now=now)
    verification_uri = found.settings.issuer + "/device"
    return jsonify(device_code=device_code, user_code=user_code,
                   verification_uri=verification_uri,
                   verification_uri_complete=f"{verification_uri}?user_code={user_code}",
                   expires_in=int(devices.LIFETIME.total_seconds()), interval=devices.INTERVAL)


@blueprint.post("/vp/response")
@audits_refusals("presentation.refused", _refusal_details)
def presentation_response() -> Response:
    """OpenID4VP 1.0 response_mode direct_post: a wallet answers a sign-in's presentation
    request (``vp_token`` and ``state``); the person's browser moves on by itself."""
    validate_form_request(request)
    found = services()
    context = found.sign_in_context()
    try:
        with found.db.transaction() as session:
            request_id, refused = steps.accept_presentation(
                session, context, request.form.get("state"), request.form.get("vp_token"),
                found.clock.now())
    except SignInRefused as unknown:
        raise ReasonedInvalidRequest(unknown.reason, f"{unknown.message}.") from None
    if refused:
        raise ReasonedInvalidRequest(refused, "The presentation was refused.")
    return jsonify(redirect_uri=f"{found.settings.issuer}/signin/{request_id}/citizenship")
