"""Issue, list, revoke and check admin API keys (256 random bits, shown once)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..base.actor import Actor
from ..base.db import fetch
from ..base.errors import Conflict, InvalidInput, NotFound
from ..base.ids import new_id
from ..base.secrets import check_secret, generate_secret, hash_secret
from .models import AdminKey

KEY_PREFIX = "eak_"
NAME = re.compile(r"^[A-Za-z0-9._@-]{1,100}$")


@dataclass(frozen=True)
class IssuedKey:
    key: AdminKey
    secret: str


def issue(session: Session, actor: Actor, name: str) -> IssuedKey:
    if not NAME.match(name):
        raise InvalidInput("an admin name is 1 to 100 letters, digits, '.', '_', '@' or '-'")
    secret = KEY_PREFIX + generate_secret()
    key = AdminKey(id=new_id("adm"), name=name, key_hash=hash_secret(secret),
                   created_at=actor.now)
    session.add(key)
    audit.record(session, at=actor.now, actor=actor.name, action="admin.key_issued",
                 target=key.id, details={"admin": name})
    return IssuedKey(key, secret)


def list_all(session: Session) -> list[AdminKey]:
    return list(session.scalars(select(AdminKey).order_by(AdminKey.created_at)))


def revoke(session: Session, actor: Actor, key_id: str) -> AdminKey:
    key = fetch(session, AdminKey, key_id, lock=True)
    if key is None:
        raise NotFound(f"no admin key with id {key_id!r}")
    if key.revoked_at is not None:
        raise Conflict(f"admin key {key_id} is already revoked")
    key.revoked_at = actor.now
    audit.record(session, at=actor.now, actor=actor.name, action="admin.key_revoked",
                 target=key.id, details={"admin": key.name})
    return key


def authenticate(session: Session, presented: str) -> str | None:
    """The admin's name for a valid, unrevoked key; None otherwise."""
    if not presented.startswith(KEY_PREFIX) or len(presented) > 100:
        return None
    key = session.scalar(select(AdminKey).where(AdminKey.key_hash == hash_secret(presented)))
    if key is None or key.revoked_at is not None or not check_secret(presented, key.key_hash):
        return None
    return key.name
