"""Revoking issued tokens: one (RFC 7009), or in bulk every live token of an organization, a
client, a person (subject), a tier, or the persons a suspended attestation issuer or identity
provider vouched for, in one statement and one audit event. The status lists show it on their
next build, so gateways stop honouring the tokens within seconds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, literal, select, update
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..base.actor import Actor
from ..base.db import Database
from ..base.errors import InvalidInput
from ..kernel.claims import tier_scope
from .models import IssuedToken

FILTERS = ("organization_id", "client_id", "subject", "tier")


def live_tokens(now: datetime, **filters: str | None) -> Any:
    """The WHERE clause of live (unrevoked, unexpired) tokens matching every filter."""
    conditions = [IssuedToken.revoked_at.is_(None), IssuedToken.expires_at > now]
    for name in ("organization_id", "client_id", "subject"):
        if filters.get(name):
            conditions.append(getattr(IssuedToken, name) == filters[name])
    if filters.get("tier"):
        pattern = "% " + _escape(tier_scope(str(filters["tier"]))) + " %"
        padded = literal(" ") + IssuedToken.scope + literal(" ")
        conditions.append(padded.like(pattern, escape="\\"))
    return conditions


def revoke(session: Session, actor: Actor, *, reason: str, quiet: bool = False,
           **filters: str | None) -> int:
    """Revoke the live tokens matching every given filter; returns how many. ``quiet``
    skips the audit event when there was nothing to revoke (a side effect of another,
    audited change)."""
    given = {k: v for k, v in filters.items() if v}
    if not given or set(given) - set(FILTERS):
        raise InvalidInput(f"name at least one of {', '.join(FILTERS)}", code="no_filter")
    return _revoke(session, actor, live_tokens(actor.now, **given), reason=reason,
                   quiet=quiet, filters=given)


def revoke_subjects(session: Session, actor: Actor, subjects: Select[Any], *, reason: str,
                    because: dict[str, str]) -> int:
    """Revoke the live tokens of every subject ``subjects`` selects (the persons whose
    standing ``because`` names has changed), quietly when there are none."""
    conditions = [*live_tokens(actor.now), IssuedToken.subject.in_(subjects)]
    return _revoke(session, actor, conditions, reason=reason, quiet=True, filters=because)


def revoke_issued(session: Session, actor: Actor, jtis: list[str], *, reason: str,
                  because: dict[str, str]) -> int:
    """Revoke the given tokens that are still live (a replayed authorization code)."""
    if not jtis:
        return 0
    conditions = [*live_tokens(actor.now), IssuedToken.jti.in_(jtis)]
    return _revoke(session, actor, conditions, reason=reason, quiet=False, filters=because)


def _revoke(session: Session, actor: Actor, conditions: list[Any], *, reason: str,
            quiet: bool, filters: dict[str, Any]) -> int:
    """One UPDATE, and one audit event naming the first hundred tokens."""
    jtis = list(session.scalars(select(IssuedToken.jti).where(*conditions).limit(101)))
    result = session.execute(update(IssuedToken).where(*conditions)
                             .values(revoked_at=actor.now)
                             .execution_options(synchronize_session=False))
    count = result.rowcount or 0
    if quiet and count == 0:
        return 0
    audit.record(session, at=actor.now, actor=actor.name, action="tokens.revoked",
                 target=",".join(f"{k}:{v}" for k, v in sorted(filters.items()))[:200],
                 reason=reason, details={"filters": filters, "count": count,
                                         "jtis": jtis[:100], "more": len(jtis) > 100})
    return count


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def revoke_one(db: Database, jti: str, actor: str, now: datetime) -> None:
    """Revoke one token (a client revoking its own, RFC 7009); nothing if it already is."""
    with db.transaction() as session:
        token = session.get(IssuedToken, jti)
        if token is None or token.revoked_at is not None:
            return
        token.revoked_at = now
        audit.record(session, at=now, actor=actor, action="token.revoked", target=jti,
                     details={"client_id": token.client_id})
