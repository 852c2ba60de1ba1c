"""The durable record of issued tokens, written with its audit event before the response.

Tokens are group-committed (``group_commit``): the request that finds no write under way
writes its token and those of the requests queued behind it, with their events, as one
statement in one transaction, through a writer of a small pool (``audit.streams``) that owns
an audit stream and, on PostgreSQL, a connection. Durability then costs one commit per batch,
not per token.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import psycopg
import sqlalchemy.exc

from ..audit import service as audit
from ..audit import targets
from ..audit.streams import WriterPool, writer_for
from ..base.clock import Clock
from ..base.db import Database
from ..base.errors import TemporarilyUnavailable
from ..base.metrics import LEDGER_BATCH_TOKENS, LEDGER_WRITE_SECONDS
from .group_commit import GroupCommit
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
        """The fields as a dict (shallow: ``dataclasses.asdict`` deep-copies every tuple,
        a measurable share of a token's cost)."""
        return {name: getattr(self, name) for name in RECORD_FIELDS}

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


RECORD_FIELDS = tuple(field.name for field in fields(TokenRecord))


def refused_rows(error: Exception) -> bool:
    """Whether the database refused a row (a constraint, a value), as opposed to being out
    of reach: only then is a failed batch worth writing again a token at a time."""
    return isinstance(error, (psycopg.IntegrityError, psycopg.DataError,
                              sqlalchemy.exc.IntegrityError, sqlalchemy.exc.DataError))


class TokenLedger:
    """Records tokens, group-committed (``group_commit``): concurrent requests' tokens and
    their events go to the database in one statement and one transaction."""

    def __init__(self, db: Database, clock: Clock, *, max_batch: int = 64,
                 wait: float = 10.0) -> None:
        # One batch is written at a time (group commit), so one writer serves them all.
        self._pool = WriterPool(lambda: writer_for(db, clock, "ledger"), max_writers=1,
                                wait=wait)
        self._group = GroupCommit(self._write, max_batch=max_batch, wait=wait,
                                  item_refused=refused_rows)

    def record(self, token: TokenRecord) -> None:
        """Return once the token's record and its ``grant.issued`` event are committed."""
        try:
            self._group.submit(token)
        except TemporarilyUnavailable as refused:
            raise TemporarilyUnavailable(refused.message) from None
        except Exception:  # noqa: BLE001 - a retryable error; _write logged the cause
            raise TemporarilyUnavailable("The token could not be recorded; retry.") from None

    def _write(self, tokens: list[TokenRecord]) -> None:
        before, params = token_batch([token.row() for token in tokens])
        try:
            with self._pool.writer() as writer, LEDGER_WRITE_SECONDS.time():
                writer.write([token.issued_event() for token in tokens], before=before,
                             params=params)
        except TemporarilyUnavailable:
            raise
        except Exception:
            log.exception("could not record %d issued token(s)", len(tokens))
            raise
        LEDGER_BATCH_TOKENS.observe(len(tokens))

    def close(self) -> None:
        self._pool.close()
