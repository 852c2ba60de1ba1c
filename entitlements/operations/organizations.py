"""Organization lifecycle and trust moves, and the token revocations they cause."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy.orm import Session

from ..base.actor import Actor
from ..organizations import service as organizations
from ..organizations.models import Organization, OrganizationStatus
from ..tokens import revocation

#: Moves after which an organization's live tokens must stop counting.
ENDS_TOKENS = frozenset({OrganizationStatus.SUSPENDED, OrganizationStatus.REVOKED})


def move(session: Session, actor: Actor, org_id: str, action: str, reason: str,
         evidence: dict[str, Any] | None = None, *, required: Collection[str] = ()
         ) -> Organization:
    """A lifecycle move (review, verify, suspend, reinstate, revoke); a suspension or a
    revocation also revokes the organization's live tokens (gateways validate offline)."""
    org = organizations.move(session, actor, org_id, action, reason, evidence,
                             required=required)
    if org.status in ENDS_TOKENS:
        revocation.revoke(session, actor, reason=f"organization {action}: {reason}",
                          quiet=True, organization_id=org.id)
    return org


def suspend(session: Session, actor: Actor, org_id: str, reason: str) -> Organization:
    return move(session, actor, org_id, "suspend", reason)


def lower_trust(session: Session, actor: Actor, org_id: str, level: str, reason: str
                ) -> Organization:
    """Lower trust (one admin) and revoke the live tokens, which claim the higher trust; the
    organization's clients then get tokens with the new level."""
    org = organizations.lower_trust(session, actor, org_id, level, reason)
    revocation.revoke(session, actor, reason=f"organization lower_trust: {reason}",
                      quiet=True, organization_id=org.id)
    return org
