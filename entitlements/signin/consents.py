"""Consents: a person's yes to a client for a set of scopes, remembered until withdrawn.
The same scopes again need no second yes; more or other scopes ask again."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..audit import targets
from ..base.actor import Actor
from ..base.db import fetch
from ..base.errors import Conflict, NotFound
from ..base.pages import Page, paginate
from ..persons import service as persons
from .models import Consent


def normalize(scope: str) -> str:
    return " ".join(sorted(set(scope.split())))


def given(session: Session, person_id: str, client_id: str, scope: str) -> bool:
    return session.scalar(select(Consent.id).where(
        Consent.person_id == person_id, Consent.client_id == client_id,
        Consent.scope == normalize(scope), Consent.withdrawn_at.is_(None))) is not None


def remember(session: Session, actor: Actor, person_id: str, client_id: str,
             scope: str) -> None:
    scope = normalize(scope)
    found = session.scalar(select(Consent).where(
        Consent.person_id == person_id, Consent.client_id == client_id,
        Consent.scope == scope))
    if found is not None:
        found.granted_at, found.withdrawn_at = actor.now, None
    else:
        try:
            with session.begin_nested():
                session.add(Consent(person_id=person_id, client_id=client_id, scope=scope,
                                    granted_at=actor.now))
        except IntegrityError:  # the same consent, given at once in another tab
            return
    audit.record(session, actor, "consent.given",
                 target=targets.person(person_id, persons.organization_of(session, person_id)),
                 details={"client_id": client_id, "scope": scope})


def list_consents(session: Session, *, person_id: str | None = None,
                  client_id: str | None = None, cursor: str | None = None, limit: int = 100
                  ) -> Page[Consent]:
    """Consents in force, oldest first."""
    query = select(Consent).where(Consent.withdrawn_at.is_(None))
    if person_id:
        query = query.where(Consent.person_id == person_id)
    if client_id:
        query = query.where(Consent.client_id == client_id)
    return paginate(session, query, (Consent.id,), cursor=cursor, limit=limit)


def find(session: Session, consent_id: int) -> Consent | None:
    return session.get(Consent, consent_id)


def withdraw(session: Session, actor: Actor, consent_id: int, reason: str) -> Consent:
    consent = fetch(session, Consent, consent_id, lock=True)
    if consent is None:
        raise NotFound(f"no consent with id {consent_id}")
    if consent.withdrawn_at is not None:
        raise Conflict(f"consent {consent_id} is already withdrawn")
    consent.withdrawn_at = actor.now
    audit.record(session, actor, "consent.withdrawn",
                 target=targets.person(consent.person_id,
                                       persons.organization_of(session, consent.person_id)),
                 reason=reason, details={"consent": consent.id, "client_id": consent.client_id,
                                         "scope": consent.scope})
    return consent
