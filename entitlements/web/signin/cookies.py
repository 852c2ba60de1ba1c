"""The sign-in cookies: HttpOnly, SameSite=Lax, Secure unless the service runs on plain
http on loopback (development); their values are random, and only digests are stored."""

from __future__ import annotations

import hashlib

from flask import Response

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


def device_csrf(browser: str) -> str:
    """The device page's form token: derived from the browser cookie, which a page of
    another site can neither read nor set."""
    return hashlib.sha256(f"device-form:{browser}".encode()).hexdigest()


def session_csrf(session_cookie: str) -> str:
    """The consents page's form token, derived from the sign-in session cookie."""
    return hashlib.sha256(f"consents-form:{session_cookie}".encode()).hexdigest()
