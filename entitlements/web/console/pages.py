"""Rendering console pages: the frame (navigation, who is signed in, the sign-out form) around
each screen, and the console's error page."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import Response, g, request
from werkzeug.exceptions import HTTPException

from ...admins.roles import Permission, permissions
from ...base.errors import ConfigError
from ..html import render_page
from ..services import services

PATH = "/console"
#: The navigation: (endpoint, label).
SECTIONS = (
    ("console_dashboard.dashboard", "Dashboard"),
    ("console_organizations.organizations", "Organizations"),
    ("console_trust.trust_requests", "Trust requests"),
    ("console_parties.parties", "Issuers and providers"),
    ("console_clients.clients", "Clients"),
    ("console_policy.policy", "Policy"),
    ("console_changes.changes", "Approvals"),
    ("console_revocations.revocations", "Revocations"),
    ("console_keys.keys", "Keys"),
    ("console_audit.audit", "Audit"),
    ("console_reports.reports", "Reports"),
    ("console_admins.admins", "Admins"),
)
#: Sections that need more than reading (the navigation shows only what its admin may open).
NEEDS = {"console_admins.admins": Permission.MANAGE_ADMINS,
         "console_revocations.revocations": Permission.REVOKE_TOKENS}


#: The query parameter a redirect carries a notice in (``url_for(..., ok="Done.")``),
#: sealed by ``session``'s URL defaults.
NOTICE = "ok"


def notice() -> str | None:
    """The notice the URL carries, if this console sealed it (a link made elsewhere cannot
    make a trusted page say what its author wants)."""
    sealed = request.args.get(NOTICE, "")
    if not sealed or len(sealed) > 1000:
        return None
    try:
        return services().sealer.unseal(sealed)
    except ConfigError:
        return None


def new_form_nonce() -> str:
    """A fresh one-time nonce for each form a page renders (``session._once`` spends it)."""
    return secrets.token_urlsafe(24)


def render(template: str, status: int = 200, **context: Any) -> Response:
    """A console page: ``template`` in the frame, with the signed-in admin."""
    principal = g.get("principal")
    allowed = permissions(principal.roles) if principal else frozenset()
    sections = [(endpoint, label) for endpoint, label in SECTIONS
                if NEEDS.get(endpoint, Permission.READ) in allowed]
    return render_page(template, status, sections=sections, principal=principal,
                       allowed={p.value for p in allowed}, form_nonce=new_form_nonce,
                       this_page=request.full_path.rstrip("?"), csrf_token=g.get("csrf_token", ""),
                       current=request.endpoint, notice=notice(), **context)


def console_error(status: int, title: str, message: str, reason: str | None = None
                  ) -> Response:
    """The console's error page, with a way back to the page whose form was refused (the
    browser keeps what was typed there)."""
    g.refusal_code = reason
    form_page = _form_field("back") if request.method == "POST" else None
    return render("console/error.html", status, title=title, message=message, reason=reason,
                  form_page=console_page(form_page))


def _form_field(name: str) -> str | None:
    """A field of the posted form, or None when the form itself cannot be read (too large,
    cut short: the very error being shown)."""
    try:
        return request.form.get(name)
    except HTTPException:
        return None


def console_page(target: str | None) -> str | None:
    """``target`` if it is a page of this console, else None: no open redirect (no scheme,
    no host, no backslash), no header injection (nothing below a space)."""
    text = target or ""
    parts = urlsplit(text)
    if (not text or parts.scheme or parts.netloc or "\\" in text
            or any(ord(c) <= 0x20 for c in text)
            or not (parts.path == PATH or parts.path.startswith(PATH + "/"))):
        return None
    return text.rstrip("?")
