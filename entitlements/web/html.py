"""Pages people see (sign-in, the console): plain HTML from Jinja templates with a strict
Content-Security-Policy (no script at all, nothing from elsewhere), never framed, never
cached, sending no Referer."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import Response, render_template

BASE_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
               "frame-ancestors 'none'")


def render_page(template: str, status: int = 200, *, form_targets: Iterable[str] = (),
                **context: object) -> Response:
    """``form_targets``: where this page's forms may end up after redirects (browsers hold
    a redirect after a form post to ``form-action`` too)."""
    response = Response(render_template(template, **context), status=status,
                        mimetype="text/html")
    origins = " ".join(sorted({_origin(t) for t in form_targets if _origin(t)}))
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


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return f"{parts.scheme}:" if parts.scheme else ""
