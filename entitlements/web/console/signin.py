"""Signing in to the console: with the lab's single sign-on (OpenID Connect, code flow with
PKCE), or with a single-use link (``entitlements admins login-link NAME``). Every sign-in
starts a new session (the old one ends) and is audited; refusals are audited too."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask import Response, redirect, request, url_for

from ...admins import service as admins
from ...admins import sessions
from ...admins.models import Admin
from ...admins.sso import LoginState, SsoRefused
from ...base.errors import ConfigError, Forbidden
from ..html import set_page_cookie
from ..services import services
from .pages import render
from .session import (
    COOKIE,
    PATH,
    check_form_token,
    check_same_site,
    clear_cookie,
    console_blueprint,
    lifetimes,
    safe_next,
    set_cookie,
)

blueprint = console_blueprint("console_signin", __name__, template_folder="templates",
                            static_folder="static", static_url_path="/static")
#: The cookie that carries a single sign-on in progress (sealed: state, nonce, verifier).
LOGIN_COOKIE = "ent_console_login"
LOGIN_WINDOW = timedelta(minutes=10)


@blueprint.get("/login")
def login() -> Response:
    found = services()
    return render("console/login.html", sso=found.console_sso is not None,
                  links=found.settings.login_links_enabled,
                  next=safe_next(request.args.get("next")))


@blueprint.get("/login/sso")
def start_sso() -> Response:
    """Off to the lab's provider, with what its answer must match sealed in a cookie."""
    found = services()
    if found.console_sso is None:
        raise Forbidden("single sign-on is not set up (ENTITLEMENTS_CONSOLE_OIDC_ISSUER)",
                        code="sso_not_configured")
    url, state = found.console_sso.start()
    sealed = found.sealer.seal(json.dumps({
        "state": state.state, "nonce": state.nonce, "verifier": state.verifier,
        "next": safe_next(request.args.get("next")), "at": found.clock.now().timestamp()}))
    return set_page_cookie(redirect(url), LOGIN_COOKIE, sealed, path=PATH,
                           max_age=int(LOGIN_WINDOW.total_seconds()))


@blueprint.get("/callback")
def callback() -> Response:
    found = services()
    started = _login_in_progress()
    if found.console_sso is None or started is None:
        raise _refused("no_sign_in_in_progress", "This sign-in was not started here, or took "
                       "longer than ten minutes. Start again.")
    try:
        identity = found.console_sso.finish(started[0], request.args.get("state"),
                                            request.args.get("code"), found.clock.now())
    except SsoRefused as refused:
        raise _refused(refused.reason, refused.message) from None
    with found.db.transaction() as session:
        admin = admins.signing_on(session, found.clock.now(), email=identity.email,
                                  subject=identity.subject)
        response = None if admin is None or admin.status != "active" else _signed_in(
            session, admin, "sso", started[1])
    if response is None:  # audited once the transaction is over (SQLite has one writer)
        raise _refused("not_an_admin", "Your single sign-on identity is not an active "
                       "admin here. Ask an owner to add you (with your e-mail address).")
    response.delete_cookie(LOGIN_COOKIE, path=PATH)
    return response


@blueprint.get("/login/link")
def link_page() -> Response:
    """A sign-in link opens a page with a button: a link preview fetching the URL must not
    spend it. The page says at once whether the link can still be used."""
    token = request.args.get("token", "")[:100]
    found = services()
    with found.db.sessions() as session:
        usable = sessions.link_usable(session, token, found.clock.now())
    return render("console/link.html", token=token, usable=usable)


@blueprint.post("/login/link")
def use_link() -> Response:
    found = services()
    check_same_site()
    if not found.settings.login_links_enabled:
        raise Forbidden("sign-in links are off here; sign in with single sign-on",
                        code="login_links_off")
    try:
        with found.db.transaction() as session:
            admin = sessions.redeem_login_link(session, request.form.get("token", ""),
                                               found.clock.now())
            return _signed_in(session, admin, "link", url_for("console_dashboard.dashboard"))
    except Forbidden as refused:
        found.refusals.record(actor="anonymous", action="console.sign_in_refused",
                              reason=refused.code, details={"method": "link"})
        raise


@blueprint.post("/logout")
def logout() -> Response:
    """Signs out (with the page's form token: another site cannot sign an admin out)."""
    found = services()
    check_same_site()
    check_form_token()
    with found.db.transaction() as session:
        sessions.sign_out(session, request.cookies.get(COOKIE), found.clock.now())
    return clear_cookie(redirect(url_for(".login", ok="Signed out.")))


def _signed_in(session: Any, admin: Admin, method: str, target: str) -> Response:
    """A new session (the browser's old one ends), and on to ``target``."""
    cookie = sessions.open_session(session, admin, method, services().clock.now(), lifetimes(),
                                   replacing=request.cookies.get(COOKIE))
    return set_cookie(redirect(target), cookie)


def _login_in_progress() -> tuple[LoginState, str] | None:
    sealed = request.cookies.get(LOGIN_COOKIE)
    if not sealed:
        return None
    found = services()
    try:
        data = json.loads(found.sealer.unseal(sealed))
    except (ConfigError, ValueError):
        return None
    if found.clock.now().timestamp() - data["at"] > LOGIN_WINDOW.total_seconds():
        return None
    return LoginState(data["state"], data["nonce"], data["verifier"]), safe_next(data["next"])


def _refused(reason: str, message: str) -> Forbidden:
    services().refusals.record(actor="anonymous", action="console.sign_in_refused",
                               reason=reason, details={"method": "sso"})
    return Forbidden(message, code="sign_in_refused")
