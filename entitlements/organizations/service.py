"""Create, read, suspend and reinstate organizations; every change is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..errors import Conflict, InvalidInput, NotFound
from ..ids import new_id
from .models import Organization, OrganizationStatus, TrustLevel


@dataclass(frozen=True)
class Actor:
    """Who makes an admin change, and when."""

    name: str
    now: datetime


def create(session: Session, actor: Actor, name: str, trust_level: str) -> Organization:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("organization name must be 1 to 200 characters")
    _validate_trust(trust_level)
    if session.scalar(select(Organization.id).where(Organization.name == name)):
        raise Conflict(f"an organization named {name!r} already exists")
    org = Organization(
        id=new_id("org"),
        name=name,
        status=OrganizationStatus.ACTIVE,
        trust_level=trust_level,
        created_at=actor.now,
        updated_at=actor.now,
    )
    session.add(org)
    audit.record(
        session, at=actor.now, actor=actor.name, action="organization.created", target=org.id,
        details={"name": name, "trust_level": trust_level},
    )
    return org


def get(session: Session, org_id: str) -> Organization:
    org = session.get(Organization, org_id)
    if org is None:
        raise NotFound(f"no organization with id {org_id!r}")
    return org


def list_all(session: Session) -> list[Organization]:
    return list(session.scalars(select(Organization).order_by(Organization.created_at)))


def suspend(session: Session, actor: Actor, org_id: str, reason: str) -> Organization:
    return _set_status(session, actor, org_id, OrganizationStatus.SUSPENDED, reason)


def reinstate(session: Session, actor: Actor, org_id: str, reason: str) -> Organization:
    return _set_status(session, actor, org_id, OrganizationStatus.ACTIVE, reason)


def _set_status(
    session: Session, actor: Actor, org_id: str, status: OrganizationStatus, reason: str
) -> Organization:
    org = get(session, org_id)
    if org.status == status:
        raise Conflict(f"organization {org_id} is already {status}")
    before = org.status
    org.status, org.updated_at = status, actor.now
    action = "organization.suspended" if status is OrganizationStatus.SUSPENDED else (
        "organization.reinstated"
    )
    audit.record(
        session, at=actor.now, actor=actor.name, action=action, target=org.id, reason=reason,
        details={"before": before, "after": status.value},
    )
    return org


def _validate_trust(trust_level: str) -> None:
    if trust_level not in set(TrustLevel):
        allowed = ", ".join(t.value for t in TrustLevel)
        raise InvalidInput(f"trust level must be one of: {allowed}")
