"""The durable record of issued tokens: written with its audit row before the response."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ..audit import service as audit
from ..clients.models import ClientStatus, OAuthClient
from ..db import Database
from ..organizations.models import Organization, OrganizationStatus
from .models import IssuedToken
from .tokens import SignedToken, TokenSubject


def record_issued(db: Database, signed: SignedToken, who: TokenSubject) -> None:
    """Store the token's record and its ``grant.issued`` audit event in one transaction."""
    with db.transaction() as session:
        session.add(IssuedToken(
            jti=signed.jti, client_id=who.client_id, organization_id=who.organization_id,
            subject=who.subject, audience=who.audience, scope=signed.scope, kid=signed.kid,
            issued_at=signed.issued_at, expires_at=signed.expires_at,
        ))
        audit.record(
            session, at=signed.issued_at, actor=who.client_id, action="grant.issued",
            target=who.organization_id,
            details={"jti": signed.jti, "sub": who.subject, "aud": who.audience,
                     "tiers": list(who.tiers), "exp": signed.expires_at.isoformat()},
        )


def record_refusal(
    db: Database, *, at: datetime, actor: str, action: str, error: str, description: str | None,
    details: dict,
) -> None:
    with db.transaction() as session:
        audit.record(session, at=at, actor=actor, action=action, outcome=audit.FAILURE,
                     reason=f"{error}: {description}" if description else error, details=details)


@dataclass(frozen=True)
class TokenState:
    client_id: str
    expires_at: datetime
    active: bool


def token_state(db: Database, jti: str) -> TokenState | None:
    """Whether a token is still good: not revoked, its client and organization active."""
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
              and org_status == OrganizationStatus.ACTIVE)
    return TokenState(client_id, expires_at, active)


def revoke(db: Database, jti: str, actor: str, now: datetime) -> None:
    with db.transaction() as session:
        token = session.get(IssuedToken, jti)
        if token is None or token.revoked_at is not None:
            return
        token.revoked_at = now
        audit.record(session, at=now, actor=actor, action="token.revoked", target=jti,
                     details={"client_id": token.client_id})
