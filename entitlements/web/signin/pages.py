"""What only the sign-in pages render: the wallet request's QR code and the error page."""

from __future__ import annotations

import segno
from flask import Response

from ..html import render_page


def qr_svg(text: str) -> str:
    """``text`` as a QR code, an inline SVG (no image request, nothing external)."""
    return segno.make(text, error="m").svg_inline(scale=3, border=2, title="Wallet request")


def error_page(status: int, title: str, message: str, reason: str | None = None) -> Response:
    return render_page("signin/error.html", status, title=title, message=message,
                       reason=reason)
