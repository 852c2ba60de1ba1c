"""The authorization endpoint (/oauth/authorize) and the sign-in pages under /signin.

A valid authorization request becomes a pending request bound to this browser; the person
picks their organization, signs in at its provider, consents, and the browser goes back to
the client with a code, ``state`` and ``iss`` (RFC 9207). Errors go back to the client only
once Authlib has matched the client and its redirect URI; before that the person sees an
error page (no open redirect)."""

from __future__ import annotations

from typing import Any

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import AccessDeniedError
from flask import Response, g, redirect, request, url_for
from sqlalchemy.orm import Session

from ...base.actor import Actor
from ...base.pages import every
from ...base.secrets import generate_secret
from ...identity_providers import service as idps
from ...oauth.authorization_request import authorization_params
from ...oauth.errors import ConsentRequiredError, LoginRequiredError
from ...operations import signin as steps
from ...signin import consents, home, requests, sessions
from ...signin.errors import SignInRefused
from ...signin.models import AuthorizationRequest, SignInSession
from ..callers import form_value
from ..errors import Family, FamilyBlueprint, audits_refusals
from ..html import form_token, render_page
from ..services import services
from .cookies import BROWSER, SESSION, check_form_token, set_cookie
from .pages import qr_svg

blueprint = FamilyBlueprint("signin", __name__, family=Family.PAGE,
                            template_folder="templates", static_folder="static",
                            static_url_path="/signin/static")


def _refusal(_: Response) -> dict[str, Any]:
    return {"client_id": request.values.get("client_id", "")[:64] or None}


@blueprint.route("/oauth/authorize", methods=["GET", "POST"])
@audits_refusals("authorization.refused", _refusal)
def authorize() -> Response:
    """A request pushed before (``request_uri``, RFC 9126), or one validated here."""
    found, context, now = services(), _context(), services().clock.now()
    pushed = request.values.get("request_uri")
    if not pushed:
        claimed = found.clients.find(request.values.get("client_id", ""))
        if claimed is not None and claimed.require_par:
            raise SignInRefused("par_required", "This application must push its sign-in "
                                                "requests first (PAR); it sent one directly.")
        grant = found.oauth.get_consent_grant(end_user=None)
        params = authorization_params(grant.request.payload, grant.redirect_uri,
                                      tiers=context.policy.tiers,
                                      resources=found.resources.snapshot())
    _check_active(request.values.get("client_id", "") if pushed
                  else grant.request.client.client_id)
    with found.db.transaction() as session:
        if pushed:
            pending, browser = requests.claim_pushed(
                session, pushed, request.values.get("client_id"), request.cookies.get(BROWSER),
                now)
            params = pending.params
        else:
            pending, browser = requests.start(
                session, client_id=grant.request.client.client_id, params=params,
                browser=request.cookies.get(BROWSER), now=now)
        signed = steps.signed_in(session, pending, request.cookies.get(SESSION), now)
        if signed is None:
            if params["prompt"] == "none":
                raise LoginRequiredError(redirect_uri=params["redirect_uri"],
                                         state=params["state"])
            response = redirect(url_for(".choose_page", request_id=pending.id))
        else:
            response = _continue(session, context, pending, signed)
    set_cookie(response, BROWSER, browser)
    return response


def _check_active(client_id: str) -> None:
    """A revoked client, or one of an organization no longer verified, starts no sign-in."""
    client = services().clients.find(client_id)
    if client is None or client.inactive_reason:
        raise SignInRefused("client_inactive", "This application may not sign people in "
                                               "at the moment.")


@blueprint.get("/signin/<request_id>")
@audits_refusals("signin.refused", _refusal)
def choose_page(request_id: str) -> Response:
    found = services()
    with found.db.sessions() as session:
        pending = _pending(session, request_id)
        return _choose(session, pending)


@blueprint.post("/signin/<request_id>")
@audits_refusals("signin.refused", _refusal)
def choose(request_id: str) -> Response:
    found, context = services(), _context()
    by_email = request.form.get("by") != "organization"
    try:
        with found.db.transaction() as session:
            pending = _pending(session, request_id, lock=True)
            requests.check_form(pending, form_value("csrf_token"))
            target = steps.upstream_redirect(
                session, context, pending,
                email=(request.form.get("email") or "").strip() if by_email else None,
                organization_id=None if by_email else request.form.get("organization_id"))
    except SignInRefused as refused:
        if refused.reason not in steps.PICK_AGAIN:
            raise
        g.refused = (refused.reason, refused.message)
        with found.db.sessions() as session:  # the same page, saying what to change
            return _choose(session, _pending(session, request_id), problem=refused.message,
                           status=400)
    return redirect(target)


@blueprint.get("/signin/callback")
@audits_refusals("signin.refused", _refusal)
def callback() -> Response:
    """The provider's answer: its state used once, its code exchanged outside any
    transaction, then the person signed in here."""
    found, context, now = services(), _context(), services().clock.now()
    with found.db.transaction() as session:
        pending = requests.by_upstream_state(session, request.args.get("state"),
                                             request.cookies.get(BROWSER), now)
        idp = idps.get(session, pending.identity_provider_id or "")
        if request.args.get("error") or not request.args.get("code"):
            requests.finish(session, pending)
    if request.args.get("error") or not request.args.get("code"):
        raise AccessDeniedError("The sign-in at the organization did not complete.",
                                redirect_uri=pending.params["redirect_uri"],
                                state=pending.params.get("state"))
    id_token = steps.upstream_id_token(context, idp, pending, request.args["code"])
    with found.db.transaction() as session:
        pending = _pending(session, pending.id, lock=True)
        cookie = steps.accept_upstream(session, context, pending, id_token, now)
        signed = steps.signed_in(session, pending, cookie, now)
        response = (_continue(session, context, pending, signed) if signed
                    else _denied(session, pending))
    set_cookie(response, SESSION, cookie)
    return response


@blueprint.get("/signin/<request_id>/citizenship")
@audits_refusals("signin.refused", _refusal)
def citizenship_page(request_id: str) -> Response:
    """Ask the wallet for a citizenship credential: a link for this device, a QR code for a
    phone; the page refreshes itself until the wallet has answered."""
    found, context, now = services(), _context(), services().clock.now()
    with found.db.transaction() as session:
        pending, signed = _signed_pending(session, request_id, lock=True)
        shown = steps.presentation_page(session, context, pending, now)
        if shown.verified:
            return redirect(url_for(".consent_page", request_id=pending.id))
        tiers = steps.tiers_needing_citizenship(
            steps.consent_page(session, context, pending, signed, now))
        return render_page("signin/citizenship.html", request_id=pending.id,
                           csrf_token=pending.csrf_token, wallet_uri=shown.wallet_uri,
                           qr_svg=qr_svg(shown.wallet_uri), problem=shown.problem,
                           tiers=tiers, waiting=True)


@blueprint.post("/signin/<request_id>/citizenship")
@audits_refusals("signin.refused", _refusal)
def citizenship(request_id: str) -> Response:
    """The person continues without presenting: the tiers that need citizenship are
    denied, and the consent page says why."""
    found = services()
    with found.db.transaction() as session:
        pending, _ = _signed_pending(session, request_id, lock=True)
        requests.check_form(pending, form_value("csrf_token"))
        steps.decline_presentation(pending)
    return redirect(url_for(".consent_page", request_id=request_id))


@blueprint.get("/signin/consents")
@audits_refusals("signin.refused", _refusal)
def my_consents() -> Response:
    """The signed-in person's consents, each with a button to withdraw it."""
    found = services()
    cookie = request.cookies.get(SESSION)
    with found.db.sessions() as session:
        signed = sessions.current(session, cookie, found.clock.now())
        if signed is None:
            raise SignInRefused("not_signed_in", "Sign in through an application first; "
                                                 "then your consents are listed here.")
        listed = [(c, steps.client_name(session, c.client_id))
                  for c in every(consents.list_consents, session,
                                   person_id=signed.person_id)]
        return render_page("signin/consents.html", consents=listed,
                           csrf_token=form_token("consents", cookie or ""))


@blueprint.post("/signin/consents/<int:consent_id>/withdraw")
@audits_refusals("signin.refused", _refusal)
def withdraw_my_consent(consent_id: int) -> Response:
    found, now = services(), services().clock.now()
    cookie = request.cookies.get(SESSION) or ""
    check_form_token("consents", cookie, form_value("csrf_token"))
    with found.db.transaction() as session:
        signed = sessions.current(session, cookie, now)
        owned = consents.find(session, consent_id)
        if signed is None or owned is None or owned.person_id != signed.person_id:
            raise SignInRefused("unknown_consent", "There is no such consent of yours.")
        consents.withdraw(session, Actor(f"person:{signed.person_id}", now), consent_id,
                          "withdrawn by the person")
    return redirect(url_for(".my_consents"))


@blueprint.get("/device")
def device_page() -> Response:
    """RFC 8628: where the person types the code their device shows."""
    browser = request.cookies.get(BROWSER) or generate_secret()
    response = render_page("signin/device.html", csrf_token=form_token("device", browser),
                           user_code=request.args.get("user_code", "")[:16])
    set_cookie(response, BROWSER, browser)
    return response


@blueprint.post("/device")
@audits_refusals("signin.refused", _refusal)
def device_confirm() -> Response:
    found, context, now = services(), _context(), services().clock.now()
    browser = request.cookies.get(BROWSER)
    check_form_token("device", browser, form_value("csrf_token"))
    with found.db.transaction() as session:
        pending, browser = steps.device_request(session, request.form.get("user_code", ""),
                                                browser, now)
        signed = steps.signed_in(session, pending, request.cookies.get(SESSION), now)
        if signed is None:
            return redirect(url_for(".choose_page", request_id=pending.id))
        return _continue(session, context, pending, signed)


@blueprint.get("/signin/<request_id>/consent")
@audits_refusals("signin.refused", _refusal)
def consent_page(request_id: str) -> Response:
    found, context = services(), _context()
    with found.db.sessions() as session:
        pending, signed = _signed_pending(session, request_id)
        page = steps.consent_page(session, context, pending, signed, found.clock.now())
        return render_page("signin/consent.html", page=page, request_id=pending.id,
                           csrf_token=pending.csrf_token,
                           device="device_code_hash" in pending.params,
                           form_targets=[pending.params["redirect_uri"] or ""])


@blueprint.post("/signin/<request_id>/consent")
@audits_refusals("signin.refused", _refusal)
def consent(request_id: str) -> Response:
    found, context, now = services(), _context(), services().clock.now()
    with found.db.transaction() as session:
        pending, signed = _signed_pending(session, request_id, lock=True)
        requests.check_form(pending, form_value("csrf_token"))
        if request.form.get("decision") != "allow":
            return _denied(session, pending)
        page = steps.consent_page(session, context, pending, signed, now)
        if "device_code_hash" in pending.params:
            steps.approve_device(session, pending, signed, page)
            return render_page("signin/device_done.html", allowed=True,
                               client_name=page.client_name)
        code = steps.approve(session, pending, signed, page, now,
                             remember=request.form.get("remember") == "yes")
        return _to_client(pending.params, code=code)


def _continue(session: Session, context: steps.Context, pending: AuthorizationRequest,
              signed: SignInSession) -> Response:
    """Signed in: the code at once if consent is on file, else the consent page."""
    now = services().clock.now()
    page = steps.consent_page(session, context, pending, signed, now)
    pending.session_hash = pending.session_hash or signed.id_hash
    if steps.needs_presentation(session, pending, page):
        return redirect(url_for(".citizenship_page", request_id=pending.id))
    if not steps.needs_consent(session, pending, signed, page):
        return _to_client(pending.params, code=steps.approve(session, pending, signed, page,
                                                             now, remember=False))
    if pending.params.get("prompt") == "none":
        raise ConsentRequiredError(redirect_uri=pending.params["redirect_uri"],
                                   state=pending.params.get("state"))
    pending.session_hash = pending.session_hash or signed.id_hash
    return redirect(url_for(".consent_page", request_id=pending.id))


def _denied(session: Session, pending: AuthorizationRequest) -> Response:
    if "device_code_hash" in pending.params:
        steps.deny_device(session, pending)
        return render_page("signin/device_done.html", allowed=False,
                           client_name=steps.client_name(session, pending.client_id))
    requests.finish(session, pending)
    return _to_client(pending.params, error="access_denied",
                      error_description="The person did not allow the request.")


def _to_client(params: dict[str, Any], **values: str) -> Response:
    pairs = [*values.items(), *([("state", params["state"])] if params.get("state") else []),
             ("iss", services().settings.issuer)]
    return redirect(add_params_to_uri(params["redirect_uri"], pairs))


def _choose(session: Session, pending: AuthorizationRequest, *, problem: str | None = None,
            status: int = 200) -> Response:
    return render_page("signin/choose.html", status, request_id=pending.id,
                       csrf_token=pending.csrf_token, problem=problem,
                       client_name=steps.client_name(session, pending.client_id),
                       organizations=home.choices(session),
                       form_targets=idps.sign_in_endpoints(session))


def _pending(session: Session, request_id: str, *, lock: bool = False
             ) -> AuthorizationRequest:
    return requests.for_browser(session, request_id, request.cookies.get(BROWSER),
                                services().clock.now(), lock=lock)


def _signed_pending(session: Session, request_id: str, *, lock: bool = False
                    ) -> tuple[AuthorizationRequest, SignInSession]:
    pending = _pending(session, request_id, lock=lock)
    signed = steps.signed_in(session, pending, request.cookies.get(SESSION),
                             services().clock.now())
    if signed is None or pending.session_hash is None:
        raise SignInRefused("not_signed_in", "Sign in first: go back to the application and "
                                             "start again.")
    return pending, signed


def _context() -> steps.Context:
    return services().sign_in_context()
