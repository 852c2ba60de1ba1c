"""Authorization codes: at most 60 seconds, single use, bound to the client, its redirect
URI and PKCE challenge. A used code is kept until it expires, so a second use is known for
what it is: a replay, which revokes what the first use issued (RFC 6749 4.1.2)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..base.db import prune_expired
from ..base.secrets import digest, generate_secret
from .models import AuthorizationCode

LIFETIME = timedelta(seconds=60)


def issue(session: Session, *, client_id: str, person_id: str, params: dict[str, Any],
          now: datetime) -> str:
    code = generate_secret()
    session.add(AuthorizationCode(code_hash=digest(code), client_id=client_id,
                                  person_id=person_id, params=params, created_at=now,
                                  expires_at=now + LIFETIME))
    prune_expired(session, AuthorizationCode, now)
    return code


def find(session: Session, code: str, client_id: str) -> AuthorizationCode | None:
    """The client's code, used or not (the caller tells a replay from a first use)."""
    return session.scalar(select(AuthorizationCode).where(
        AuthorizationCode.code_hash == digest(code), AuthorizationCode.client_id == client_id))


def consume(session: Session, code_hash: str, now: datetime) -> bool:
    """Mark the code used; False if another request used it first (one winner)."""
    marked = session.execute(update(AuthorizationCode).where(
        AuthorizationCode.code_hash == code_hash, AuthorizationCode.used_at.is_(None))
        .values(used_at=now))
    return marked.rowcount == 1


def record_issued(session: Session, code_hash: str, jtis: list[str]) -> None:
    session.execute(update(AuthorizationCode).where(AuthorizationCode.code_hash == code_hash)
                    .values(issued_jtis=jtis))
