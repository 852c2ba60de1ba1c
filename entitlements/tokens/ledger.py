"""The durable record of issued tokens, written with its audit event before the response.

Recording a token borrows a writer from a small pool (``audit.streams``). Each writer owns an
audit stream and, on PostgreSQL, a connection, so a record is one transaction in one round
trip, with no lock or queue shared with other requests or processes while it runs.
PostgreSQL merges the WAL flushes of concurrent commits, so durability costs far less than
one flush a token.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from ..audit import service as audit
from ..audit import targets
from ..audit.streams import WriterPool, writer_for
from ..base.clock import Clock
from ..base.db import Database
from ..base.errors import TemporarilyUnavailable
from ..base.metrics import LEDGER_WRITE_SECONDS
from .ledger_writer import token_batch

log = logging.getLogger("entitlements.ledger")


@dataclass(frozen=True)
class TokenRecord:
    """What is kept of an issued token (never the JWT), and what the standing rule checks
    when it is written: the trust it claims, the identity provider and attestation issuers
    it rests on."""

    jti: str
    client_id: str
    organization_id: str
    subject: str
    audience: str
    scope: str
    tiers: tuple[str, ...]
    kid: str
    issued_at: datetime
    expires_at: datetime
    trust_level: str
    policy_version: int | None = None
    identity_provider_id: str | None = None
    vouched_by: tuple[str, ...] = ()
    #: The citizenship verifications the tiers were decided on (the grant event names them).
    attestations: tuple[str, ...] = ()
    status_list_id: int | None = None
    status_idx: int | None = None
    #: A DPoP-bound token's key thumbprint.
    cnf_jkt: str | None = None

    def row(self) -> dict[str, Any]:
        return asdict(self)

    def issued_event(self) -> dict[str, Any]:
        """``grant.issued``: what was granted to whom, and why: the policy version that
        decided it, the organization's trust, and for a person the citizenship
        verifications, their issuers and the identity provider it rested on."""
        is_person = self.subject != self.client_id
        target = (targets.person(self.subject, self.organization_id) if is_person
                  else targets.client(self.client_id, self.organization_id))
        why: dict[str, Any] = {"policy_version": self.policy_version,
                               "trust_level": self.trust_level}
        if is_person:
            why.update(attestations=list(self.attestations),
                       attestation_issuers=list(self.vouched_by),
                       identity_provider_id=self.identity_provider_id)
        return audit.new_event(
            at=self.issued_at, actor=self.client_id, action="grant.issued", target=target,
            details={"jti": self.jti, "sub": self.subject, "aud": self.audience,
                     "tiers": list(self.tiers), "exp": self.expires_at.isoformat(), **why,
                     **({"cnf_jkt": self.cnf_jkt} if self.cnf_jkt else {})})


class TokenLedger:
    def __init__(self, db: Database, clock: Clock, *, max_writers: int = 32,
                 wait: float = 10.0) -> None:
        self._pool = WriterPool(lambda: writer_for(db, clock, "ledger"),
                                max_writers=max_writers, wait=wait)

    def record(self, token: TokenRecord) -> None:
        """Return once the token's record and its ``grant.issued`` event are committed."""
        before, params = token_batch([token.row()])
        try:
            with self._pool.writer() as writer, LEDGER_WRITE_SECONDS.time():
                writer.write([token.issued_event()], before=before, params=params)
        except TemporarilyUnavailable:
            raise
        except Exception:  # the client gets a retryable error; the cause goes to the log
            log.exception("could not record an issued token")
            raise TemporarilyUnavailable("The token could not be recorded; retry.") from None

    def close(self) -> None:
        self._pool.close()
