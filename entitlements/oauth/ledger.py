"""The durable record of issued tokens, written with its audit event before the response.

Issuance goes through a ``TokenLedger``: request threads hand their record to one
writer thread per process and wait; the writer commits whatever has queued up in
one transaction (group commit), so the audit chain's lock and the WAL flush are
paid once per batch instead of once per token. A request is answered only after
its batch has committed.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from ..audit import service as audit
from ..clients.models import ClientStatus, OAuthClient
from ..db import Database
from ..organizations.models import Organization, OrganizationStatus
from .errors import TemporarilyUnavailableError
from .models import IssuedToken
from .tokens import SignedToken, TokenSubject

log = logging.getLogger("entitlements.ledger")


@dataclass
class _Pending:
    token: dict[str, Any]
    event: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    abandoned: bool = False


class TokenLedger:
    def __init__(self, db: Database, *, max_batch: int = 128, max_queue: int = 2048,
                 timeout: float = 10.0) -> None:
        self._db = db
        self._max_batch, self._timeout = max_batch, timeout
        self._queue: queue.Queue[_Pending] = queue.Queue(maxsize=max_queue)
        self._lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self._pid = 0

    def record(self, signed: SignedToken, who: TokenSubject) -> None:
        """Return once the token's record and its ``grant.issued`` event are committed."""
        pending = _Pending(_token_row(signed, who), _issued_event(signed, who))
        self._ensure_writer()
        try:
            self._queue.put(pending, timeout=self._timeout)
        except queue.Full:
            raise TemporarilyUnavailableError("The token service is overloaded; retry.") from None
        if not pending.done.wait(self._timeout):
            pending.abandoned = True  # the writer skips it unless already committing it
            raise TemporarilyUnavailableError("The token could not be recorded; retry.")
        if pending.error is not None:
            raise TemporarilyUnavailableError("The token could not be recorded; retry.")

    def _ensure_writer(self) -> None:
        if self._writer is not None and self._pid == os.getpid() and self._writer.is_alive():
            return
        with self._lock:
            if self._writer is None or self._pid != os.getpid() or not self._writer.is_alive():
                self._pid = os.getpid()
                self._writer = threading.Thread(target=self._run, name="token-ledger",
                                                daemon=True)
                self._writer.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._commit(batch)

    def _commit(self, batch: list[_Pending]) -> None:
        batch = [p for p in batch if not p.abandoned]
        if not batch:
            return
        try:
            with self._db.engine.begin() as connection:
                connection.execute(insert(IssuedToken), [p.token for p in batch])
                audit.append_many(connection, [p.event for p in batch])
        except Exception as error:  # every waiter must hear of any failure
            log.exception("could not record %d issued tokens", len(batch))
            for pending in batch:
                pending.error = error
        for pending in batch:
            pending.done.set()


def _token_row(signed: SignedToken, who: TokenSubject) -> dict[str, Any]:
    return {"jti": signed.jti, "client_id": who.client_id,
            "organization_id": who.organization_id, "subject": who.subject,
            "audience": who.audience, "scope": signed.scope, "kid": signed.kid,
            "issued_at": signed.issued_at, "expires_at": signed.expires_at,
            "revoked_at": None}


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
              and org_status == OrganizationStatus.ACTIVE)
    return TokenState(client_id, expires_at, active)


def revoke(db: Database, jti: str, actor: str, now: datetime) -> None:
    with db.transaction() as session:
        token = session.get(IssuedToken, jti)
        if token is None or token.revoked_at is not None:
            return
        token.revoked_at = now
        audit.record(session, at=now, actor=actor, action="token.revoked", target=jti,
                     details={"client_id": token.client_id})
