"""Revoking issued tokens: one (RFC 7009), or in bulk every live token of an organization, a
client, a person (subject), a tier, or the persons a suspended attestation issuer or identity
provider vouched for, in one statement and one audit event. The status lists show it on their
next build, so gateways stop honouring the tokens within seconds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, literal, select, update
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..audit import targets
from ..audit.targets import Target
from ..base.actor import Actor
from ..base.db import Database, like_escape
from ..base.errors import InvalidInput
from ..base.progress import Tracker
from ..clients.models import OAuthClient
from ..kernel.claims import tier_scope
from ..persons import service as persons
from .models import IssuedToken

FILTERS = ("organization_id", "client_id", "subject", "tier")
#: Tokens revoked per transaction by a revocation that shows its progress.
CHUNK = 1000


def live_tokens(now: datetime, **filters: str | None) -> Any:
    """The WHERE clause of live (unrevoked, unexpired) tokens matching every filter."""
    conditions = [IssuedToken.revoked_at.is_(None), IssuedToken.expires_at > now]
    for name in ("organization_id", "client_id", "subject"):
        if filters.get(name):
            conditions.append(getattr(IssuedToken, name) == filters[name])
    if filters.get("tier"):
        pattern = "% " + like_escape(tier_scope(str(filters["tier"]))) + " %"
        padded = literal(" ") + IssuedToken.scope + literal(" ")
        conditions.append(padded.like(pattern, escape="\\"))
    return conditions


def revoke(session: Session, actor: Actor, *, reason: str, quiet: bool = False,
           **filters: str | None) -> int:
    """Revoke the live tokens matching every given filter; returns how many. ``quiet``
    skips the audit event when there was nothing to revoke (a side effect of another,
    audited change)."""
    given = named_filters(filters)
    return _revoke(session, actor, live_tokens(actor.now, **given), reason=reason,
                   quiet=quiet, target=_target_of(session, given), filters=given)


def count_live(session: Session, now: datetime, **filters: str | None) -> int:
    """How many live tokens match every given filter (a bulk revocation's preview)."""
    given = named_filters(filters)
    return session.scalar(select(func.count()).select_from(IssuedToken)
                          .where(*live_tokens(now, **given))) or 0


def revoke_in_chunks(db: Database, actor: Actor, *, reason: str, tracker: Tracker,
                     job: str | None = None, **filters: str | None) -> int:
    """Revoke the live tokens matching the filters ``CHUNK`` at a time, each chunk in a
    transaction of its own with its audit event, telling ``tracker`` as it goes: a long
    revocation shows its progress, and one cut short has revoked (and audited) what it
    says (``CHUNK`` tokens a transaction). How many were revoked."""
    given = named_filters(filters)
    conditions = live_tokens(actor.now, **given)
    with db.sessions() as session:
        total = count_live(session, actor.now, **given)
        target = _target_of(session, given)
    tracker.expect(total)  # outside the session: on SQLite it would hold the write lock
    revoked, said = 0, {**given, **({"job": job} if job else {})}
    while True:
        with db.transaction() as session:
            jtis = list(session.scalars(select(IssuedToken.jti).where(*conditions)
                                        .order_by(IssuedToken.jti).limit(CHUNK)))
            if not jtis and revoked:
                return revoked
            # The first chunk is audited even when nothing matched: the attempt is a change.
            done = _revoke(session, actor, [*conditions, IssuedToken.jti.in_(jtis)],
                           reason=reason, quiet=bool(revoked), target=target, filters=said,
                           jtis=jtis)
            if not jtis:
                return 0
        revoked += done
        tracker.advance(done)


def named_filters(filters: dict[str, str | None]) -> dict[str, str]:
    """The filters given (at least one, each known); InvalidInput ``no_filter`` else."""
    given = {k: v for k, v in filters.items() if v}
    if not given or set(given) - set(FILTERS):
        raise InvalidInput(f"name at least one of {', '.join(FILTERS)}", code="no_filter")
    return given


def revoke_subjects(session: Session, actor: Actor, subjects: Select[Any], *, reason: str,
                    target: Target) -> int:
    """Revoke the live tokens of every subject ``subjects`` selects (the persons whose
    standing ``target`` is has changed), quietly when there are none."""
    conditions = [*live_tokens(actor.now), IssuedToken.subject.in_(subjects)]
    return _revoke(session, actor, conditions, reason=reason, quiet=True, target=target,
                   filters={target.kind: target.id})


def revoke_issued(session: Session, actor: Actor, jtis: list[str], *, reason: str,
                  target: Target) -> int:
    """Revoke the given tokens that are still live (a replayed authorization code, an ended
    refresh family: ``target``)."""
    if not jtis:
        return 0
    conditions = [*live_tokens(actor.now), IssuedToken.jti.in_(jtis)]
    return _revoke(session, actor, conditions, reason=reason, quiet=False, target=target,
                   filters={target.kind: target.id})


def _revoke(session: Session, actor: Actor, conditions: list[Any], *, reason: str,
            quiet: bool, target: Target, filters: dict[str, Any],
            jtis: list[str] | None = None) -> int:
    """One UPDATE, and one audit event naming the first hundred tokens (``jtis``, when the
    caller selected them already)."""
    if jtis is None:
        jtis = list(session.scalars(select(IssuedToken.jti).where(*conditions).limit(101)))
    result = session.execute(update(IssuedToken).where(*conditions)
                             .values(revoked_at=actor.now)
                             .execution_options(synchronize_session=False))
    count = result.rowcount or 0
    if quiet and count == 0:
        return 0
    audit.record(session, actor, "tokens.revoked", target=target, reason=reason,
                 details={"filters": filters, "count": count, "jtis": jtis[:100],
                          "more": len(jtis) > 100})
    return count


def _target_of(session: Session, filters: dict[str, str]) -> Target:
    """What a bulk revocation acts on: the most specific thing it names (a person, a client,
    an organization, a tier), with the organization it concerns."""
    org_id = filters.get("organization_id")
    if filters.get("subject"):
        return targets.person(filters["subject"], org_id or persons.organization_of(
            session, filters["subject"]))
    if filters.get("client_id"):
        client = session.get(OAuthClient, filters["client_id"])
        return targets.client(filters["client_id"], org_id or (
            client.organization_id if client else None))
    if org_id:
        return targets.organization(org_id)
    return Target("tier", filters["tier"])


def revoke_one(db: Database, jti: str, actor: str, now: datetime) -> None:
    """Revoke one token (a client revoking its own, RFC 7009); nothing if it already is."""
    with db.transaction() as session:
        token = session.get(IssuedToken, jti)
        if token is None or token.revoked_at is not None:
            return
        token.revoked_at = now
        audit.record(session, Actor(actor, now), "token.revoked",
                     target=Target("token", jti, token.organization_id),
                     details={"client_id": token.client_id, "subject": token.subject})


def live_list(session: Session, now: datetime, limit: int = 100, **filters: str | None
              ) -> list[IssuedToken]:
    """The live tokens matching the filters, soonest to expire first (the console's view)."""
    return list(session.scalars(select(IssuedToken).where(*live_tokens(now, **filters))
                                .order_by(IssuedToken.expires_at).limit(limit)))
