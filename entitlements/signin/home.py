"""Home-organization discovery: which organization a person signs in with, from an e-mail
address whose domain the organization has verified, or from a pick among those that have a
provider for sign-in."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..identity_providers.models import IdentityProvider
from ..organizations.models import Evidence, EvidenceKind, Organization, OrganizationStatus
from .errors import SignInRefused

MAX_LISTED = 200


@dataclass(frozen=True)
class Home:
    organization_id: str
    name: str


def choices(session: Session) -> list[Home]:
    """Verified organizations with an active provider for sign-in, by name."""
    rows = session.execute(
        select(Organization.id, Organization.name).distinct()
        .join(IdentityProvider, IdentityProvider.organization_id == Organization.id)
        .where(Organization.status == OrganizationStatus.VERIFIED,
               IdentityProvider.status == "active",
               IdentityProvider.authorization_endpoint.is_not(None))
        .order_by(Organization.name).limit(MAX_LISTED))
    return [Home(org_id, name) for org_id, name in rows]


def by_email(session: Session, email: str) -> str:
    """The organization that verified the address's domain (or a parent domain of it)."""
    domain = email.rpartition("@")[2].strip().lower().rstrip(".")
    if "@" not in email or not domain or len(email) > 320:
        raise SignInRefused("invalid_email", "Type an e-mail address such as "
                                             "name@example.com.")
    candidates = [".".join(domain.split(".")[i:]) for i in range(domain.count(".") + 1)]
    found = session.execute(
        select(Evidence.organization_id, Evidence.value)
        .where(Evidence.kind == EvidenceKind.DOMAIN, Evidence.status == "verified",
               Evidence.value.in_(candidates))).all()
    if not found:
        raise SignInRefused("unknown_domain", f"No organization here has verified the "
                                              f"domain {domain[:100]}.")
    return max(found, key=lambda row: len(row.value)).organization_id
