"""Rendering the sign-in pages: plain HTML with a strict Content-Security-Policy, no
external asset, never cached, never framed."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

import segno
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
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def qr_svg(text: str) -> str:
    """``text`` as a QR code, an inline SVG (no image request, nothing external)."""
    return segno.make(text, error="m").svg_inline(scale=3, border=2, title="Wallet request")


def error_page(status: int, title: str, message: str, reason: str | None = None) -> Response:
    return render_page("signin/error.html", status, title=title, message=message,
                       reason=reason)


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return f"{parts.scheme}:" if parts.scheme else ""
