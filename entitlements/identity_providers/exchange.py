"""The stateful half of token exchange: the provider registry and its keys, single use
of each ID token, and the person an ID token names (created on first exchange)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import jwt
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..base.actor import Actor
from ..base.db import prune_expired
from ..base.remote_jwks import JwksUnavailable, RemoteJwks, find_key
from ..persons import service as persons
from ..persons.models import Person
from .id_token import KeyLookup, Provider, SubjectTokenRefused, VerifiedIdToken
from .models import IdentityProvider, UsedSubjectToken


def has_provider(session: Session, org_id: str) -> bool:
    return session.scalar(select(IdentityProvider.id).where(
        IdentityProvider.organization_id == org_id).limit(1)) is not None


def registry(session: Session, remote_jwks: RemoteJwks
             ) -> tuple[Callable[[str], Provider | None], KeyLookup]:
    """Provider lookup by issuer, and key lookup by provider and kid, for ``verify_id_token``."""
    rows: dict[str, IdentityProvider] = {}

    def provider(issuer: str) -> Provider | None:
        row = session.scalar(select(IdentityProvider).where(IdentityProvider.issuer == issuer))
        if row is None:
            return None
        rows[row.id] = row
        return Provider(row.id, row.issuer, row.organization_id, tuple(row.audiences),
                        row.status == "active")

    def key(found: Provider, kid: str | None) -> jwt.PyJWK:
        row = rows[found.id]
        try:
            return find_key(remote_jwks, jwks=row.jwks, jwks_uri=row.jwks_uri, kid=kid,
                            owner="the identity provider")
        except JwksUnavailable:
            raise SubjectTokenRefused("idp_keys_unavailable", "the identity provider's keys "
                                      "could not be fetched; retry") from None
        except LookupError:
            raise SubjectTokenRefused("unknown_key", "the signing key is not registered for "
                                                     "the identity provider") from None

    return provider, key


def consume(session: Session, verified: VerifiedIdToken, now: datetime) -> None:
    """Record the ID token as used; a second use is refused. Old records are pruned now and
    then, so the table holds only unexpired tokens (at most their lifetime's worth)."""
    try:
        with session.begin_nested():
            session.add(UsedSubjectToken(token_hash=verified.digest,
                                         expires_at=verified.expires_at))
    except IntegrityError:
        raise SubjectTokenRefused("replayed", "the subject_token has been exchanged "
                                              "before") from None
    prune_expired(session, UsedSubjectToken, now)


def release(session: Session, verified: VerifiedIdToken) -> None:
    """Forget a use that issued nothing (the token could not be recorded), so the partner's
    retry with the same ID token is not refused as a replay."""
    session.execute(delete(UsedSubjectToken).where(
        UsedSubjectToken.token_hash == verified.digest))


def person_for(session: Session, verified: VerifiedIdToken, client_id: str, now: datetime
               ) -> Person:
    """The person the ID token names in its organization, created on first exchange."""
    provider = verified.provider
    return persons.find_or_create_by_idp(session, Actor(f"client:{client_id}", now),
                                         provider.organization_id, provider.issuer,
                                         verified.subject)
