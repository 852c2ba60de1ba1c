"""Create, rotate, list and revoke signing keys; every change is audited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..audit.targets import Target
from ..base.actor import Actor
from ..base.db import Database, fetch, serialize
from ..base.errors import Conflict, NotFound
from .keyring import KeyInfo, KeyRing, classify
from .keystore import KeyStore, generate_private_key, public_jwk
from .models import SigningKey

#: The advisory lock every change to the key set takes: its checks span rows (the signer, the
#: waiting keys) that a racing change would make or revoke.
KEY_CHANGES = "signing_keys"


def load_ring(session: Session, store: KeyStore, max_token_ttl: timedelta,
              alg: str | None = None) -> KeyRing:
    return KeyRing([_info(row) for row in session.scalars(select(SigningKey))], store,
                   max_token_ttl, alg)


def ring_loader(db: Database, store: KeyStore, max_token_ttl: timedelta, alg: str
                ) -> Callable[[], KeyRing]:
    """What a ``KeyRingCache`` reloads the ring with: the keys' metadata, read afresh."""

    def load() -> KeyRing:
        with db.sessions() as session:
            return load_ring(session, store, max_token_ttl, alg)

    return load


def ensure_signing_key(session: Session, store: KeyStore, actor: Actor, alg: str) -> KeyInfo | None:
    """Create a key that signs at once when no usable key exists (first start; instances
    starting together make one)."""
    serialize(session, KEY_CHANGES)
    rows = session.scalars(select(SigningKey).where(SigningKey.revoked_at.is_(None),
                                                    SigningKey.alg == alg)).all()
    if any(row.activates_at <= actor.now for row in rows):
        return None
    return _create(session, store, actor, alg, activates_at=actor.now, action="key.created")


def rotate(
    session: Session, store: KeyStore, actor: Actor, alg: str, prepublish: timedelta
) -> KeyInfo:
    """Publish a new key now; it becomes the signer after ``prepublish``. Refused while
    another rotation's key waits to sign: one rotation at a time."""
    serialize(session, KEY_CHANGES)
    waiting = [row for row in session.scalars(select(SigningKey).where(
        SigningKey.revoked_at.is_(None), SigningKey.activates_at > actor.now,
        SigningKey.alg == alg))]
    if waiting and prepublish > timedelta(0):
        raise Conflict(f"key {waiting[0].kid} is already waiting to sign (from "
                       f"{waiting[0].activates_at.isoformat()}); rotate again after that, "
                       "or revoke it", code="rotation_pending")
    return _create(session, store, actor, alg, activates_at=actor.now + prepublish,
                   action="key.rotated")


def revoke(
    session: Session, store: KeyStore, actor: Actor, kid: str, reason: str,
    max_token_ttl: timedelta,
) -> KeyInfo | None:
    """Withdraw a key from the JWKS at once; if it was the signer, a key published and
    waiting to sign (gateways know it already) signs now, or else a new one."""
    serialize(session, KEY_CHANGES)
    row = fetch(session, SigningKey, kid, lock=True)
    if row is None:
        raise NotFound(f"no signing key with kid {kid!r}")
    if row.revoked_at is not None:
        raise Conflict(f"key {kid} is already revoked")
    alg = row.alg
    states = classify([k for k in list_keys(session) if k.alg == alg], actor.now,
                      max_token_ttl)
    row.revoked_at = actor.now
    audit.record(session, actor, "key.revoked", target=Target("signing_key", kid),
                 reason=reason)
    if not (states.signer and states.signer.kid == kid):
        return None
    if states.pending:
        waiting = fetch(session, SigningKey, states.pending[0].kid, lock=True)
        assert waiting is not None  # listed above, in this transaction
        waiting.activates_at = actor.now
        audit.record(session, actor, "key.brought_forward",
                     target=Target("signing_key", waiting.kid),
                     details={"replaces": kid})
        return _info(waiting)
    return _create(session, store, actor, alg, activates_at=actor.now, action="key.created")


def check_key_store(session: Session, store: KeyStore, now: datetime) -> list[str]:
    """Every key that signs now or will (pending) loads from ``store``, readable by this user
    only: ConfigError, with one line naming the key and the fix, otherwise. The kids."""
    keys = list_keys(session)
    needed: list[KeyInfo] = []
    for alg in sorted({k.alg for k in keys}):
        states = classify([k for k in keys if k.alg == alg], now, timedelta(0))
        needed += [*([states.signer] if states.signer else []), *states.pending]
    for info in needed:
        store.load(info.kid)
    return [info.kid for info in needed]


def described(session: Session, now: datetime, max_token_ttl: timedelta) -> list[dict[str, Any]]:
    """Every key with its state now (pending, active, retired, expired, revoked)."""
    keys = list_keys(session)
    states = {alg: classify([k for k in keys if k.alg == alg], now, max_token_ttl)
              for alg in {k.alg for k in keys}}
    return [{"kid": k.kid, "alg": k.alg, "state": states[k.alg].state_of(k.kid),
             "created_at": k.created_at, "activates_at": k.activates_at,
             "revoked_at": k.revoked_at} for k in keys]


def list_keys(session: Session) -> list[KeyInfo]:
    return [_info(r) for r in session.scalars(select(SigningKey).order_by(SigningKey.created_at))]


def _create(
    session: Session, store: KeyStore, actor: Actor, alg: str, *, activates_at: datetime,
    action: str,
) -> KeyInfo:
    private = generate_private_key(alg)
    jwk = public_jwk(private, alg)
    store.save(jwk["kid"], private)
    row = SigningKey(kid=jwk["kid"], alg=alg, public_jwk=jwk, created_at=actor.now,
                     activates_at=activates_at)
    session.add(row)
    audit.record(session, actor, action, target=Target("signing_key", row.kid),
                 details={"alg": alg, "activates_at": activates_at.isoformat()})
    return _info(row)


def _info(row: SigningKey) -> KeyInfo:
    return KeyInfo(row.kid, row.alg, row.public_jwk, row.created_at, row.activates_at,
                   row.revoked_at)
