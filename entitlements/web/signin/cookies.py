"""The sign-in cookies: HttpOnly, SameSite=Lax, Secure unless the service runs on plain
http on loopback (development); their values are random, and only digests are stored."""

from __future__ import annotations

from flask import Response

from ...signin.errors import SignInRefused
from ..html import form_token_matches, set_page_cookie

#: Binds pending authorization requests to the browser that brought them.
BROWSER = "ent_browser"
#: The person's sign-in session.
SESSION = "ent_session"
MAX_AGE = {BROWSER: 24 * 3600, SESSION: 8 * 3600}


def set_cookie(response: Response, name: str, value: str) -> None:
    set_page_cookie(response, name, value, path="/", max_age=MAX_AGE[name])


def check_form_token(purpose: str, cookie: str | None, presented: str | None) -> None:
    """For pages with no pending request to hold a form token (``html.form_token``)."""
    if not form_token_matches(purpose, cookie, presented):
        raise SignInRefused("csrf", "The form is stale or did not come from this page. "
                                    "Reload it and try again.")
