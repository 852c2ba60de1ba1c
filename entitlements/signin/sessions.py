"""Sign-in sessions: a person signed in here through their organization's provider, held by
a cookie of which only the digest is kept. A session spares the next authorization request
the trip upstream, unless the client asks for a fresh sign-in (``prompt=login``,
``max_age``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ..base.db import prune_expired
from ..base.secrets import digest, generate_secret
from .models import SignInSession

LIFETIME = timedelta(hours=8)


@dataclass(frozen=True)
class UpstreamSignIn:
    """What the organization's provider said of the sign-in."""

    person_id: str
    organization_id: str
    identity_provider_id: str
    auth_time: datetime
    acr: str | None
    amr: list[str] | None


def open_session(session: Session, signed_in: UpstreamSignIn, now: datetime) -> str:
    """A new session; its cookie value."""
    token = generate_secret()
    session.add(SignInSession(
        id_hash=digest(token), person_id=signed_in.person_id,
        organization_id=signed_in.organization_id,
        identity_provider_id=signed_in.identity_provider_id, auth_time=signed_in.auth_time,
        acr=signed_in.acr, amr=signed_in.amr, expires_at=now + LIFETIME))
    prune_expired(session, SignInSession, now)
    return token


def current(session: Session, token: str | None, now: datetime) -> SignInSession | None:
    found = session.get(SignInSession, digest(token)) if token else None
    if found is None or found.ended_at is not None or found.expires_at <= now:
        return None
    return found

