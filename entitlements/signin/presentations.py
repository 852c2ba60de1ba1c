"""Presentation requests (OpenID for Verifiable Presentations 1.0): when the tiers a person
asked for need a citizenship they have not proven, the sign-in asks their wallet for one.
Each request has its own ``state`` and ``nonce``, lives five
minutes, and is answered once: verified, or refused with the reason."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..base.db import fetch
from ..base.secrets import generate_secret
from .errors import SignInRefused
from .models import PresentationRequest

LIFETIME = timedelta(minutes=5)
#: The DCQL credential query's id: the vp_token answers under it.
QUERY_ID = "citizenship"
SD_JWT_VC = "dc+sd-jwt"


def start(session: Session, request_id: str, now: datetime) -> tuple[str, str]:
    """A fresh presentation request for the pending request (any older one is dropped):
    its ``state`` and ``nonce``."""
    session.execute(delete(PresentationRequest).where(
        PresentationRequest.request_id == request_id))
    state, nonce = generate_secret(), generate_secret()
    session.add(PresentationRequest(state=state, request_id=request_id,
                                    nonce=nonce, status="pending", created_at=now,
                                    expires_at=now + LIFETIME))
    return state, nonce


def for_request(session: Session, request_id: str) -> PresentationRequest | None:
    return session.scalar(select(PresentationRequest).where(
        PresentationRequest.request_id == request_id))


def answering(session: Session, state: str | None, now: datetime) -> PresentationRequest:
    """The pending request a wallet's answer names, locked; refused if unknown, answered
    before, or expired."""
    row = fetch(session, PresentationRequest, state, lock=True) if state else None
    if row is None or row.status != "pending" or row.expires_at <= now:
        raise SignInRefused("invalid_state", "the presentation's state is unknown, answered "
                                             "or expired")
    return row


def wallet_uri(*, response_uri: str, state: str, nonce: str, vct_values: list[str]) -> str:
    """The ``openid4vp://`` authorization request, by value: client_id with the
    ``redirect_uri`` prefix (unsigned, OID4VP 1.0 5.9.3), response_mode ``direct_post``, and
    a DCQL query for the nationalities claim of an SD-JWT VC."""
    query = {"credentials": [{"id": QUERY_ID, "format": SD_JWT_VC,
                              "meta": {"vct_values": vct_values},
                              "claims": [{"path": ["nationalities"]}]}]}
    return "openid4vp://?" + urlencode({
        "client_id": client_id(response_uri), "response_type": "vp_token",
        "response_mode": "direct_post", "response_uri": response_uri, "state": state,
        "nonce": nonce, "dcql_query": json.dumps(query, separators=(",", ":"))})


def client_id(response_uri: str) -> str:
    """Who the wallet answers, and the key-binding JWT's ``aud``."""
    return "redirect_uri:" + response_uri


def presented(vp_token: str | None) -> list[str]:
    """The SD-JWT VC presentations of a ``vp_token`` (a JSON object keyed by query id)."""
    try:
        value: Any = json.loads(vp_token or "")
    except ValueError:
        value = None
    found = value.get(QUERY_ID) if isinstance(value, dict) else None
    if not isinstance(found, list) or not 0 < len(found) <= 3 or not all(
            isinstance(item, str) and len(item) <= 32_768 for item in found):
        raise SignInRefused("invalid_vp_token", f"vp_token must be a JSON object whose "
                                                f"'{QUERY_ID}' holds 1 to 3 presentations")
    return found
