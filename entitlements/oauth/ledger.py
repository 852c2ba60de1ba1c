"""The durable record of issued tokens, written with its audit event before the response.

Recording a token borrows a writer from a small pool. Each writer owns an audit
stream and, on PostgreSQL, a connection (``ledger_writer``), so a record is one
transaction in one round trip, with no lock or queue shared with other requests
or processes while it runs. PostgreSQL merges the WAL flushes of concurrent
commits, so durability costs far less than one flush a token.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ..audit import service as audit
from ..clients.models import ClientStatus, OAuthClient
from ..clock import Clock
from ..db import Database
from ..organizations.models import Organization, OrganizationStatus
from .errors import TemporarilyUnavailableError
from .ledger_writer import StreamWriter, writer_for
from .models import IssuedToken
from .tokens import SignedToken, TokenSubject

log = logging.getLogger("entitlements.ledger")


class TokenLedger:
    def __init__(self, db: Database, clock: Clock, *, max_writers: int = 32,
                 wait: float = 10.0) -> None:
        self._db, self._clock, self._wait = db, clock, wait
        self._slots = threading.BoundedSemaphore(max_writers)
        self._lock = threading.Lock()
        self._idle: list[StreamWriter] = []
        self._writers: list[StreamWriter] = []
        self._forked_away: list[StreamWriter] = []
        self._pid = os.getpid()

    def record(self, signed: SignedToken, who: TokenSubject) -> None:
        """Return once the token's record and its ``grant.issued`` event are committed."""
        if not self._slots.acquire(timeout=self._wait):
            raise TemporarilyUnavailableError("The token service is overloaded; retry.")
        try:
            writer = self._checkout()
            try:
                writer.write([_token_row(signed, who)], [_issued_event(signed, who)])
            finally:
                self._checkin(writer)
        except Exception:  # the client gets a retryable error; the cause goes to the log
            log.exception("could not record an issued token")
            raise TemporarilyUnavailableError("The token could not be recorded; retry.") from None
        finally:
            self._slots.release()

    def close(self) -> None:
        with self._lock:
            writers, self._writers, self._idle = self._writers, [], []
        for writer in writers:
            writer.close()

    def _checkout(self) -> StreamWriter:
        with self._lock:
            if self._pid != os.getpid():
                # A forked child must not touch (or close) its parent's connections.
                self._forked_away += self._writers
                self._writers, self._idle, self._pid = [], [], os.getpid()
            if self._idle:
                return self._idle.pop()
        writer = writer_for(self._db, self._clock)
        with self._lock:
            self._writers.append(writer)
        return writer

    def _checkin(self, writer: StreamWriter) -> None:
        with self._lock:
            if writer in self._writers:
                self._idle.append(writer)


def _token_row(signed: SignedToken, who: TokenSubject) -> dict[str, Any]:
    return {"jti": signed.jti, "client_id": who.client_id,
            "organization_id": who.organization_id, "subject": who.subject,
            "audience": who.audience, "scope": signed.scope, "kid": signed.kid,
            "issued_at": signed.issued_at, "expires_at": signed.expires_at,
            "trust_level": who.trust_level, "policy_version": who.policy_version,
            "identity_provider_id": who.identity_provider_id, "vouched_by": who.vouched_by,
            "status_list_id": signed.status.list_id if signed.status else None,
            "status_idx": signed.status.idx if signed.status else None}


def _issued_event(signed: SignedToken, who: TokenSubject) -> dict[str, Any]:
    return audit.new_event(
        at=signed.issued_at, actor=who.client_id, action="grant.issued",
        target=who.organization_id,
        details={"jti": signed.jti, "sub": who.subject, "aud": who.audience,
                 "tiers": list(who.tiers), "exp": signed.expires_at.isoformat()},
    )


def record_refusal(
    db: Database, *, at: datetime, actor: str, action: str, error: str, description: str | None,
    details: dict,
) -> None:
    with db.transaction() as session:
        audit.record(session, at=at, actor=actor, action=action, outcome=audit.FAILURE,
                     reason=f"{error}: {description}" if description else error, details=details)


@dataclass(frozen=True)
class TokenState:
    client_id: str
    expires_at: datetime
    active: bool


def token_state(db: Database, jti: str) -> TokenState | None:
    """Whether a token is still good: not revoked, its client and organization active."""
    with db.sessions() as session:
        row = session.execute(
            select(IssuedToken.client_id, IssuedToken.expires_at, IssuedToken.revoked_at,
                   OAuthClient.status, Organization.status)
            .join(OAuthClient, OAuthClient.client_id == IssuedToken.client_id)
            .join(Organization, Organization.id == IssuedToken.organization_id)
            .where(IssuedToken.jti == jti)
        ).first()
    if row is None:
        return None
    client_id, expires_at, revoked_at, client_status, org_status = row
    active = (revoked_at is None and client_status == ClientStatus.ACTIVE
              and org_status == OrganizationStatus.VERIFIED)
    return TokenState(client_id, expires_at, active)


def revoke(db: Database, jti: str, actor: str, now: datetime) -> None:
    with db.transaction() as session:
        token = session.get(IssuedToken, jti)
        if token is None or token.revoked_at is not None:
            return
        token.revoked_at = now
        audit.record(session, at=now, actor=actor, action="token.revoked", target=jti,
                     details={"client_id": token.client_id})
