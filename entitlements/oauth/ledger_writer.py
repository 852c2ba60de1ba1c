"""Append a batch of token records and their audit events to this process's stream.

PostgreSQL gets the whole batch as one statement on a connection the writer keeps
(one network round trip); other databases go through SQLAlchemy Core.
The stream's tip lives in memory, because no one else writes to the stream; after
any failure it is re-read, so a commit whose answer was lost cannot fork the chain.

A token is recorded already revoked when, at the moment of the insert, its client is no
longer active, its organization no longer verified at the trust it claims or, for a person,
the identity provider or an attestation issuer behind it is suspended. Issuance reads
both from a short cache, so without this a token signed just before a suspension could be
written just after the suspension's bulk revocation and escape it. On PostgreSQL the check
takes a share lock on both rows: a suspension either waits for the insert (and its bulk
revocation then sees the token) or the insert waits for the suspension (and sees it); the same
for the rows of a person token's identity provider and attestation issuers.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.types.json import Json
from sqlalchemy import ColumnElement, and_, case, exists, insert, literal, null, select, update

from ..attestations.models import AttestationIssuer
from ..audit import service as audit
from ..audit.models import AuditEvent, AuditStream
from ..clients.models import ClientStatus, OAuthClient
from ..clock import Clock
from ..db import Database, UTCDateTime
from ..identity_providers.models import IdentityProvider
from ..organizations.models import Organization, OrganizationStatus, TrustLevel
from .models import IssuedToken

ACTIVE = "active"
TOKEN_COLUMNS = ("jti", "client_id", "organization_id", "subject", "audience", "scope", "kid",
                 "issued_at", "expires_at", "policy_version", "status_list_id", "status_idx")
EVENT_COLUMNS = ("stream", "seq", "at", "actor", "action", "target", "outcome", "reason",
                 "details", "prev_hash", "hash")


class StreamWriter:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        with db.transaction() as session:
            owner = f"ledger-{os.getpid()}"
            self.stream = audit.open_stream(session, at=clock.now(), owner=owner)
        self.seq, self.hash = 0, audit.GENESIS_HASH

    def write(self, tokens: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
        linked = audit.link(self.stream, self.seq, self.hash, events)
        tip = {"stream": self.stream, "seq": linked[-1]["seq"], "hash": linked[-1]["hash"]}
        try:
            self._store(tokens, linked, tip)
        except Exception:
            self._reload_tip()
            raise
        self.seq, self.hash = tip["seq"], tip["hash"]

    def _store(self, tokens: list[dict], events: list[dict], tip: dict) -> None:
        with self.db.engine.begin() as connection:
            for token in tokens:
                connection.execute(insert(IssuedToken).values(
                    {**{c: token[c] for c in TOKEN_COLUMNS},
                     "revoked_at": _revoked_unless_standing(token)}))
            connection.execute(insert(AuditEvent), events)
            connection.execute(update(AuditStream).where(AuditStream.id == tip["stream"])
                               .values(seq=tip["seq"], hash=tip["hash"]))

    def close(self) -> None:
        """Release what the writer holds (nothing, here)."""

    def _reload_tip(self) -> None:
        with self.db.sessions() as session:
            row = session.execute(select(AuditStream.seq, AuditStream.hash)
                                  .where(AuditStream.id == self.stream)).one()
        self.seq, self.hash = row.seq, row.hash


class PostgresStreamWriter(StreamWriter):
    """The same as one statement (data-modifying CTEs) in autocommit on a connection of
    its own: atomic, and one network round trip."""

    def __init__(self, db: Database, clock: Clock) -> None:
        super().__init__(db, clock)
        self._dsn = db.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False)
        self._connection: psycopg.Connection | None = None

    def _store(self, tokens: list[dict], events: list[dict], tip: dict) -> None:
        sql, params = _batch_statement(tokens, events, tip)
        try:
            if self._connection is None or self._connection.closed:
                self._connection = psycopg.connect(self._dsn, autocommit=True)
            self._connection.execute(sql, params)
        except psycopg.Error:
            self.close()
            raise

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = None


def trust_at_least(level: str) -> list[str]:
    """The trust levels a token claiming ``level`` may still be honoured under."""
    return [t.value for t in TrustLevel if t.rank >= TrustLevel(level).rank]


def _revoked_unless_standing(token: dict[str, Any]) -> ColumnElement[Any]:
    """NULL while everything the token rests on still stands (its client, its organization
    at the trust it claims and, for a person, the identity provider and the attestation
    issuers behind it), else ``issued_at``. SQLite serializes writers, so the check cannot
    race a suspension."""
    standing = [OAuthClient.status == ClientStatus.ACTIVE.value,
                Organization.status == OrganizationStatus.VERIFIED.value,
                Organization.trust_level.in_(trust_at_least(token["trust_level"]))]
    if token["identity_provider_id"]:
        standing.append(exists().where(
            IdentityProvider.id == token["identity_provider_id"],
            IdentityProvider.status == ACTIVE))
    if token["vouched_by"]:
        standing.append(~exists().where(AttestationIssuer.id.in_(token["vouched_by"]),
                                        AttestationIssuer.status != ACTIVE))
    return (select(case((and_(*standing), null()),
                        else_=literal(token["issued_at"], UTCDateTime())))
            .join_from(OAuthClient, Organization,
                       Organization.id == OAuthClient.organization_id)
            .where(OAuthClient.client_id == token["client_id"]).scalar_subquery())


#: The PostgreSQL form of ``_revoked_unless_standing``, with share locks on every row it
#: reads, so a concurrent suspension and this insert are ordered one way or the other.
_REVOKED_UNLESS_STANDING = (
    "(SELECT CASE WHEN c.status = 'active' AND o.status = 'verified' "
    "AND o.trust_level = ANY(%(t{i}_trust_ok)s) "
    "AND (%(t{i}_idp)s::varchar IS NULL OR (SELECT p.status FROM identity_providers p "
    "WHERE p.id = %(t{i}_idp)s::varchar FOR SHARE) = 'active') "
    "AND COALESCE((SELECT bool_and(v.status = 'active') FROM (SELECT a.status "
    "FROM attestation_issuers a WHERE a.id = ANY(%(t{i}_vouched)s::varchar[]) FOR SHARE) v), "
    "true) THEN NULL "
    "ELSE %(t{i}_issued_at)s::timestamptz END "
    "FROM oauth_clients c JOIN organizations o ON o.id = c.organization_id "
    "WHERE c.client_id = %(t{i}_client_id)s::varchar FOR SHARE OF c, o)")


def _batch_statement(tokens: list[dict], events: list[dict], tip: dict
                     ) -> tuple[bytes, dict[str, Any]]:
    params: dict[str, Any] = {"tip_stream": tip["stream"], "tip_seq": tip["seq"],
                              "tip_hash": tip["hash"]}
    for i, token in enumerate(tokens):
        params.update({f"t{i}_{c}": token[c] for c in TOKEN_COLUMNS})
        params[f"t{i}_trust_ok"] = trust_at_least(token["trust_level"])
        params[f"t{i}_idp"] = token["identity_provider_id"]
        params[f"t{i}_vouched"] = token["vouched_by"]
    for i, event in enumerate(events):
        params.update({f"e{i}_{c}": event[c] for c in EVENT_COLUMNS})
        params[f"e{i}_details"] = Json(event["details"])
    return _statement(len(tokens), len(events)), params


@lru_cache(maxsize=256)
def _statement(tokens: int, events: int) -> bytes:
    """The statement for a batch of this size, built once (identifiers are fixed)."""
    def values(prefix: str, columns: tuple[str, ...], count: int, extra: str = "") -> str:
        rows = (", ".join([*(f"%({prefix}{i}_{c})s" for c in columns),
                           *([extra.format(i=i)] if extra else [])]) for i in range(count))
        return ", ".join(f"({row})" for row in rows)

    # Only fixed column names and placeholders go into the text; values are parameters.
    token_columns = ", ".join([*TOKEN_COLUMNS, "revoked_at"])
    return (
        f"WITH tokens AS (INSERT INTO issued_tokens ({token_columns}) "  # noqa: S608
        f"VALUES {values('t', TOKEN_COLUMNS, tokens, _REVOKED_UNLESS_STANDING)}), "
        f"events AS (INSERT INTO audit_events ({', '.join(EVENT_COLUMNS)}) "
        f"VALUES {values('e', EVENT_COLUMNS, events)}) "
        "UPDATE audit_streams SET seq = %(tip_seq)s, hash = %(tip_hash)s "
        "WHERE id = %(tip_stream)s"
    ).encode()


def writer_for(db: Database, clock: Clock) -> StreamWriter:
    return PostgresStreamWriter(db, clock) if db.engine.dialect.name == "postgresql" else (
        StreamWriter(db, clock)
    )
