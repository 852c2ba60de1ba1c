"""The tier catalog and the plain per-organization tier grants."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..errors import Conflict, NotFound
from ..organizations import service as organizations
from ..organizations.service import Actor
from .models import OrganizationTier, Tier


def list_tiers(session: Session) -> list[Tier]:
    return list(session.scalars(select(Tier).order_by(Tier.name)))


def get_tier(session: Session, name: str) -> Tier:
    tier = session.get(Tier, name)
    if tier is None:
        known = ", ".join(t.name for t in list_tiers(session))
        raise NotFound(f"no tier named {name!r} (known tiers: {known})")
    return tier


def granted_tiers(session: Session, org_id: str) -> list[str]:
    rows = session.scalars(
        select(OrganizationTier.tier)
        .where(OrganizationTier.organization_id == org_id)
        .order_by(OrganizationTier.tier)
    )
    return list(rows)


def grant_tier(session: Session, actor: Actor, org_id: str, tier: str) -> OrganizationTier:
    organizations.get(session, org_id)
    get_tier(session, tier)
    if session.get(OrganizationTier, (org_id, tier)) is not None:
        raise Conflict(f"organization {org_id} already has tier {tier!r}")
    grant = OrganizationTier(
        organization_id=org_id, tier=tier, granted_at=actor.now, granted_by=actor.name
    )
    session.add(grant)
    audit.record(
        session, at=actor.now, actor=actor.name, action="organization.tier_granted",
        target=org_id, details={"tier": tier},
    )
    return grant


def revoke_tier(session: Session, actor: Actor, org_id: str, tier: str) -> None:
    grant = session.get(OrganizationTier, (org_id, tier))
    if grant is None:
        raise NotFound(f"organization {org_id} has no tier {tier!r}")
    session.delete(grant)
    audit.record(
        session, at=actor.now, actor=actor.name, action="organization.tier_revoked",
        target=org_id, details={"tier": tier},
    )
