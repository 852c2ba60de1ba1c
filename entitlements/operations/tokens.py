"""Revoking live tokens by what an admin names: each named organization, client, person and
tier must exist (a typo is a 404, never "0 revoked" that looks like success)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ..base.actor import Actor
from ..base.db import Database
from ..base.progress import Tracker
from ..clients import service as clients
from ..organizations import service as organizations
from ..persons import service as persons
from ..policy import service as policy
from ..tokens import revocation


def filters(session: Session, *, organization_id: str | None = None,
            client_id: str | None = None, person_id: str | None = None,
            tier: str | None = None) -> dict[str, Any]:
    """The revocation filters, once every one named exists."""
    if organization_id:
        organizations.get(session, organization_id)
    if client_id:
        clients.get(session, client_id)
    if person_id:
        persons.get(session, person_id)
    if tier:
        policy.get_tier(session, tier)
    found = {"organization_id": organization_id, "client_id": client_id, "subject": person_id,
             "tier": tier}
    revocation.named_filters(found)  # at least one
    return found


def revoke_matching(session: Session, actor: Actor, *, reason: str, **named: str | None
                    ) -> int:
    """Revoke the live tokens matching every given filter, in one statement; how many."""
    return revocation.revoke(session, actor, reason=reason, **filters(session, **named))


def preview(session: Session, actor: Actor, **named: str | None) -> int:
    """How many live tokens a revocation with these filters would revoke now."""
    return revocation.count_live(session, actor.now, **filters(session, **named))


def revoke_tracked(db: Database, actor: Actor, *, reason: str, tracker: Tracker,
                   job: str | None = None, **named: str | None) -> dict[str, Any]:
    """Revoke in chunks, telling ``tracker`` (a job's progress, a progress bar)."""
    with db.sessions() as session:
        given = filters(session, **named)
    count = revocation.revoke_in_chunks(db, actor, reason=reason, tracker=tracker, job=job,
                                        **given)
    return {"revoked": count}
