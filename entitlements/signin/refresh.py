"""Refresh tokens: rotated on every use, one family per sign-in. A used token presented
again is a replay, which revokes the whole family and its live access tokens. Of two
refreshes of one token at once, one wins (a conditional update). The family ends at its
absolute lifetime, or sooner when the verification its citizenship rests on expires."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..audit.targets import Target
from ..base.actor import Actor
from ..base.db import prune_expired
from ..base.secrets import digest, generate_secret
from .models import RefreshToken

FAMILY_LIFETIME = timedelta(days=30)


@dataclass(frozen=True)
class Family:
    """What each token of a family carries on."""

    family_id: str
    client_id: str
    person_id: str
    scope: str
    resource: str | None
    identity_provider_id: str
    auth_time: datetime
    expires_at: datetime
    #: The DPoP key every refresh of the family must prove (a public client's), if any.
    dpop_jkt: str | None = None


def start_family(*, client_id: str, person_id: str, scope: str, resource: str | None,
                 identity_provider_id: str, auth_time: datetime, now: datetime,
                 not_after: datetime | None, dpop_jkt: str | None = None) -> Family:
    end = now + FAMILY_LIFETIME
    return Family(generate_secret(), client_id, person_id, scope, resource, identity_provider_id,
                  auth_time, min(end, not_after) if not_after else end, dpop_jkt)


def issue(session: Session, family: Family, access_jti: str, now: datetime) -> str:
    token = generate_secret()
    session.add(RefreshToken(
        token_hash=digest(token), family_id=family.family_id, client_id=family.client_id,
        person_id=family.person_id, scope=family.scope, resource=family.resource,
        identity_provider_id=family.identity_provider_id, auth_time=family.auth_time,
        created_at=now, expires_at=family.expires_at, access_jti=access_jti,
        dpop_jkt=family.dpop_jkt))
    prune_expired(session, RefreshToken, now)
    return token


def find(session: Session, token: str) -> RefreshToken | None:
    return session.get(RefreshToken, digest(token)) if token else None


def family_of(row: RefreshToken) -> Family:
    return Family(row.family_id, row.client_id, row.person_id, row.scope, row.resource,
                  row.identity_provider_id, row.auth_time, row.expires_at, row.dpop_jkt)


def consume(session: Session, token_hash: str, now: datetime) -> bool:
    """Mark the token used; False if another refresh used it first."""
    marked = session.execute(update(RefreshToken).where(
        RefreshToken.token_hash == token_hash, RefreshToken.used_at.is_(None),
        RefreshToken.revoked_at.is_(None)).values(used_at=now))
    return marked.rowcount == 1


def revoke_family(session: Session, actor: Actor, family_id: str, *, reason: str
                  ) -> list[str]:
    """Revoke every refresh token of the family; the jti of each access token issued beside
    them (the caller revokes those: issued tokens are the token ledger's)."""
    jtis = [j for j in session.scalars(select(RefreshToken.access_jti).where(
        RefreshToken.family_id == family_id)) if j]
    session.execute(update(RefreshToken).where(RefreshToken.family_id == family_id,
                                               RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=actor.now))
    audit.record(session, actor, "refresh.family_revoked",
                 target=Target("refresh_family", family_id[:16]), reason=reason,
                 details={"access_tokens": len(jtis)})
    return jtis
