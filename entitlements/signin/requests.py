"""Pending authorization requests: created when a valid request arrives, bound to the
browser that brought it (a cookie of which only the digest is kept), advanced through the
upstream sign-in, and deleted when the code is issued or the request refused."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..base.db import fetch, prune_expired
from ..base.secrets import digest, generate_secret, same
from .errors import SignInRefused
from .models import AuthorizationRequest

LIFETIME = timedelta(minutes=10)
#: A pushed request (RFC 9126) waits this long for its browser, and is then bound to it.
PUSHED_LIFETIME = timedelta(seconds=60)
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
UNBOUND = ""


def start(session: Session, *, client_id: str, params: dict[str, Any], browser: str | None,
          now: datetime) -> tuple[AuthorizationRequest, str]:
    """A new pending request, and the browser token to set (the one it had, if any)."""
    browser = browser or generate_secret()
    request = AuthorizationRequest(
        id=generate_secret(), client_id=client_id, params=params, browser_hash=digest(browser),
        csrf_token=generate_secret(), created_at=now, expires_at=now + LIFETIME)
    session.add(request)
    prune_expired(session, AuthorizationRequest, now)
    return request, browser


def push(session: Session, *, client_id: str, params: dict[str, Any], now: datetime
         ) -> tuple[str, int]:
    """A pushed authorization request, bound to no browser yet; its ``request_uri`` and
    lifetime in seconds."""
    request = AuthorizationRequest(
        id=generate_secret(), client_id=client_id, params=params, browser_hash=UNBOUND,
        csrf_token=generate_secret(), created_at=now, expires_at=now + PUSHED_LIFETIME)
    session.add(request)
    prune_expired(session, AuthorizationRequest, now)
    return REQUEST_URI_PREFIX + request.id, int(PUSHED_LIFETIME.total_seconds())


def claim_pushed(session: Session, request_uri: str, client_id: str | None,
                 browser: str | None, now: datetime) -> tuple[AuthorizationRequest, str]:
    """The pushed request ``request_uri`` names, bound now to this browser (once)."""
    request_id = request_uri.removeprefix(REQUEST_URI_PREFIX)
    found = fetch(session, AuthorizationRequest, request_id, lock=True) if (
        request_uri.startswith(REQUEST_URI_PREFIX)) else None
    if (found is None or found.expires_at <= now or found.browser_hash != UNBOUND
            or found.client_id != client_id):
        raise SignInRefused("invalid_request_uri", "The application's sign-in link has "
                            "expired or was used. Go back to the application and try again.")
    browser = browser or generate_secret()
    found.browser_hash, found.expires_at = digest(browser), now + LIFETIME
    return found, browser


def for_browser(session: Session, request_id: str, browser: str | None, now: datetime, *,
                lock: bool = False) -> AuthorizationRequest:
    """The pending request, if it is this browser's and still alive."""
    found = fetch(session, AuthorizationRequest, request_id, lock=lock) if request_id else None
    if found is None or found.expires_at <= now:
        raise SignInRefused("request_expired", "This sign-in has expired or is unknown. "
                                               "Go back to the application and start again.")
    if (not browser or found.browser_hash == UNBOUND
            or not same(digest(browser), found.browser_hash)):
        raise SignInRefused("other_browser", "This sign-in was started in another browser.")
    return found


def check_form(request: AuthorizationRequest, csrf: str | None) -> None:
    if not csrf or not same(csrf, request.csrf_token):
        raise SignInRefused("csrf", "The form is stale or did not come from this page. "
                                    "Reload it and try again.")


def send_upstream(request: AuthorizationRequest, idp_id: str) -> tuple[str, str, str]:
    """Our ``state``, ``nonce`` and PKCE verifier for the provider; the state's digest is
    how its answer finds this request."""
    state, nonce = generate_secret(), generate_secret()
    verifier = generate_secret() + generate_secret()  # 86 characters (PKCE: 43 to 128)
    request.upstream_state_hash, request.upstream_nonce = digest(state), nonce
    request.upstream_verifier, request.identity_provider_id = verifier, idp_id
    return state, nonce, verifier


def by_upstream_state(session: Session, state: str | None, browser: str | None,
                      now: datetime) -> AuthorizationRequest:
    found = session.scalar(select(AuthorizationRequest.id).where(
        AuthorizationRequest.upstream_state_hash == digest(state))) if state else None
    if found is None:
        raise SignInRefused("state_mismatch", "The answer of your organization's sign-in "
                                              "does not belong to a sign-in started here.")
    request = for_browser(session, found, browser, now, lock=True)
    request.upstream_state_hash = None  # the provider's answer is used once
    return request


def finish(session: Session, request: AuthorizationRequest) -> None:
    session.execute(delete(AuthorizationRequest).where(AuthorizationRequest.id == request.id))
