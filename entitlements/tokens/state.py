"""Whether an issued token still stands: not revoked, its client and organization active."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ..base.db import Database
from ..clients.models import ClientStatus, OAuthClient
from ..organizations.models import Organization, OrganizationStatus
from .models import IssuedToken


@dataclass(frozen=True)
class TokenState:
    client_id: str
    expires_at: datetime
    active: bool


def token_state(db: Database, jti: str) -> TokenState | None:
    with db.sessions() as session:
        row = session.execute(
            select(IssuedToken.client_id, IssuedToken.expires_at, IssuedToken.revoked_at,
                   OAuthClient.status, Organization.status)
            .join(OAuthClient, OAuthClient.client_id == IssuedToken.client_id)
            .join(Organization, Organization.id == IssuedToken.organization_id)
            .where(IssuedToken.jti == jti)
        ).first()
    if row is None:
        return None
    client_id, expires_at, revoked_at, client_status, org_status = row
    active = (revoked_at is None and client_status == ClientStatus.ACTIVE
              and org_status == OrganizationStatus.VERIFIED)
    return TokenState(client_id, expires_at, active)
