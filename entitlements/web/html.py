"""Pages people see (sign-in, the console): plain HTML from Jinja templates with a strict
Content-Security-Policy (no script at all, nothing from elsewhere), never framed, never
cached, sending no Referer."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import Response, render_template

from ..base.secrets import same
from .services import services

BASE_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
               "frame-ancestors 'none'")


def render_page(template: str, status: int = 200, *, form_targets: Iterable[str] = (),
                **context: object) -> Response:
    """``form_targets``: where this page's forms may end up after redirects (browsers hold
    a redirect after a form post to ``form-action`` too)."""
    response = Response(render_template(template, **context), status=status,
                        mimetype="text/html")
    origins = " ".join(sorted({origin_of(t) for t in form_targets if origin_of(t)}))
    response.headers["Content-Security-Policy"] = (
        f"{BASE_POLICY}; form-action 'self'{' ' + origins if origins else ''}")
    return locked_down(response)


def locked_down(response: Response) -> Response:
    """The headers every answer of a page family carries, redirects and downloads too (a
    page's own Content-Security-Policy, naming its form targets, is kept)."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", f"{BASE_POLICY}; form-action 'self'")
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Cache-Control"] = "no-store"
    return response


def set_page_cookie(response: Response, name: str, value: str, *, path: str, max_age: int
                    ) -> Response:
    """A cookie of our pages: HttpOnly, SameSite=Lax (a sign-in comes back from a provider
    across sites), Secure unless the service runs on plain http (loopback development)."""
    response.set_cookie(name, value, path=path, max_age=max_age, httponly=True,
                        samesite="Lax",
                        secure=services().settings.issuer.startswith("https://"))
    return response


def form_token(purpose: str, cookie: str) -> str:
    """A page's form token, derived from one of our cookies (which a page of another site
    can neither read nor set)."""
    return hashlib.sha256(f"{purpose}-form:{cookie}".encode()).hexdigest()


def form_token_matches(purpose: str, cookie: str | None, presented: str | None) -> bool:
    return bool(cookie) and same(presented or "", form_token(purpose, cookie or ""))


def origin_of(uri: str) -> str:
    """``scheme://host[:port]`` of a URL (what ``Origin`` and ``form-action`` name)."""
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return f"{parts.scheme}:" if parts.scheme else ""
