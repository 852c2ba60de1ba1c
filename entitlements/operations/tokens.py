"""Revoking live tokens by what an admin names: each named organization, client, person and
tier must exist (a typo is a 404, never "0 revoked" that looks like success)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..base.actor import Actor
from ..clients import service as clients
from ..organizations import service as organizations
from ..persons import service as persons
from ..policy import service as policy
from ..tokens import revocation


def revoke_matching(session: Session, actor: Actor, *, reason: str,
                    organization_id: str | None = None, client_id: str | None = None,
                    person_id: str | None = None, tier: str | None = None) -> int:
    """Revoke the live tokens matching every given filter; how many."""
    if organization_id:
        organizations.get(session, organization_id)
    if client_id:
        clients.get(session, client_id)
    if person_id:
        persons.get(session, person_id)
    if tier:
        policy.get_tier(session, tier)
    return revocation.revoke(session, actor, reason=reason, organization_id=organization_id,
                             client_id=client_id, subject=person_id, tier=tier)
