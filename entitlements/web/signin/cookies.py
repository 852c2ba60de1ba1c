"""The sign-in cookies: HttpOnly, SameSite=Lax, Secure unless the service runs on plain
http on loopback (development); their values are random, and only digests are stored."""

from __future__ import annotations

import hashlib

from flask import Response

from ...base.secrets import same
from ...signin.errors import SignInRefused
from ..services import services

#: Binds pending authorization requests to the browser that brought them.
BROWSER = "ent_browser"
#: The person's sign-in session.
SESSION = "ent_session"
MAX_AGE = {BROWSER: 24 * 3600, SESSION: 8 * 3600}


def set_cookie(response: Response, name: str, value: str) -> None:
    secure = services().settings.issuer.startswith("https://")
    response.set_cookie(name, value, max_age=MAX_AGE[name], path="/", secure=secure,
                        httponly=True, samesite="Lax")


def form_token(purpose: str, cookie: str) -> str:
    """A page's form token, derived from one of our cookies (which a page of another site
    can neither read nor set), for pages with no pending request to hold one."""
    return hashlib.sha256(f"{purpose}-form:{cookie}".encode()).hexdigest()


def check_form_token(purpose: str, cookie: str | None, presented: str | None) -> None:
    if not cookie or not same(presented or "", form_token(purpose, cookie)):
        raise SignInRefused("csrf", "The form is stale or did not come from this page. "
                                    "Reload it and try again.")
