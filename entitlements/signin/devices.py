"""Device authorizations (RFC 8628): a CLI or an agent asks, shows the person a short user
code, and polls while the person confirms the code in a browser, signs in and consents.
Polling faster than the interval is told to slow down (and the interval grows); codes
expire; an approval is used once."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..base.db import fetch, prune_expired
from ..base.secrets import digest, generate_secret
from .errors import SignInRefused
from .models import DeviceAuthorization

LIFETIME = timedelta(minutes=10)
INTERVAL = 5
#: No vowels, no look-alikes: BCDF-GHJK (RFC 8628 6.1); 20^8 codes.
ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"


def new_user_code() -> str:
    letters = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"{letters[:4]}-{letters[4:]}"


def normalize_user_code(typed: str) -> str:
    letters = "".join(ch for ch in typed.upper() if ch in ALPHABET)[:8]
    return f"{letters[:4]}-{letters[4:]}"


def start(session: Session, *, client_id: str, params: dict[str, Any], now: datetime
          ) -> tuple[str, str]:
    """A new device authorization: its device code and user code."""
    device_code, user_code = generate_secret(), new_user_code()
    session.add(DeviceAuthorization(
        device_code_hash=digest(device_code), user_code=user_code, client_id=client_id,
        params=params, status="pending", interval=INTERVAL, created_at=now,
        expires_at=now + LIFETIME))
    prune_expired(session, DeviceAuthorization, now)
    return device_code, user_code


def pending_by_user_code(session: Session, typed: str, now: datetime) -> DeviceAuthorization:
    found = session.scalar(select(DeviceAuthorization).where(
        DeviceAuthorization.user_code == normalize_user_code(typed)))
    if found is None or found.status != "pending" or found.expires_at <= now:
        raise SignInRefused("unknown_user_code", "That code is unknown or has expired. "
                                                 "Check it on your device, or start again.")
    return found


def decide(session: Session, device_code_hash: str, *, person_id: str | None,
           sign_in: dict[str, Any] | None) -> None:
    """The person's answer: approved (with who and how they signed in) or denied."""
    row = fetch(session, DeviceAuthorization, device_code_hash, lock=True)
    if row is None or row.status != "pending":
        raise SignInRefused("unknown_user_code", "This device's request was already "
                                                 "answered or has expired.")
    row.status = "approved" if person_id else "denied"
    row.person_id = person_id
    if sign_in:
        row.params = {**row.params, **sign_in}


def poll(session: Session, device_code: str, client_id: str, now: datetime
         ) -> DeviceAuthorization | None:
    """The client's authorization, its poll noted; None if unknown or another client's."""
    row = fetch(session, DeviceAuthorization, digest(device_code), lock=True) if (
        device_code) else None
    if row is None or row.client_id != client_id:
        return None
    return row


def too_fast(row: DeviceAuthorization, now: datetime) -> bool:
    """Polled again within the interval: the interval grows by 5 s (RFC 8628 3.5)."""
    fast = row.last_polled_at is not None and (now - row.last_polled_at).total_seconds() \
        < row.interval
    row.last_polled_at = now
    if fast:
        row.interval += 5
    return fast


def use(session: Session, device_code_hash: str) -> bool:
    marked = session.execute(update(DeviceAuthorization).where(
        DeviceAuthorization.device_code_hash == device_code_hash,
        DeviceAuthorization.status == "approved").values(status="used"))
    return marked.rowcount == 1
