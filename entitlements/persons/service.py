"""Create and find persons; every creation is audited."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..audit import targets
from ..base.actor import Actor
from ..base.errors import Conflict, InvalidInput, NotFound
from ..base.ids import new_id
from ..base.pages import Page, paginate
from ..organizations import service as organizations
from .models import Person


def create(session: Session, actor: Actor, org_id: str, *, idp_issuer: str | None = None,
           idp_subject: str | None = None) -> Person:
    org = organizations.get(session, org_id)
    if (idp_issuer is None) != (idp_subject is None):
        raise InvalidInput("give both the identity provider's issuer and the subject, or neither")
    if idp_issuer is not None and find_by_idp(session, org.id, idp_issuer, idp_subject or ""):
        raise Conflict(f"a person with subject {idp_subject!r} at {idp_issuer!r} already exists "
                       "in this organization")
    person = Person(id=new_id("per"), organization_id=org.id, idp_issuer=idp_issuer,
                    idp_subject=idp_subject, created_at=actor.now)
    session.add(person)
    audit.record(session, actor, "person.created", target=targets.person(person.id, org.id),
                 details={"organization_id": org.id, "idp_issuer": idp_issuer})
    return person


def find_or_create_by_idp(session: Session, actor: Actor, org_id: str, issuer: str,
                          subject: str) -> Person:
    """The person an identity provider names, created on first sight. Two first sights at
    once (two exchanges, or an exchange and an attestation) both find nobody; the one that
    loses the insert finds the winner's row instead of failing."""
    found = find_by_idp(session, org_id, issuer, subject)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            person = create(session, actor, org_id, idp_issuer=issuer, idp_subject=subject)
            session.flush()
        return person
    except (IntegrityError, Conflict):
        found = find_by_idp(session, org_id, issuer, subject)
        if found is None:
            raise
        return found


def get(session: Session, person_id: str) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"no person with id {person_id!r}")
    return person


def organization_of(session: Session, person_id: str) -> str | None:
    """The organization a person acts for (None for an unknown id)."""
    return session.scalar(select(Person.organization_id).where(Person.id == person_id))


def find_by_idp(session: Session, org_id: str, issuer: str, subject: str) -> Person | None:
    return session.scalar(select(Person).where(Person.organization_id == org_id,
                                               Person.idp_issuer == issuer,
                                               Person.idp_subject == subject))


def list_for(session: Session, org_id: str, *, cursor: str | None = None, limit: int = 100
             ) -> Page[Person]:
    organizations.get(session, org_id)
    return paginate(session, select(Person).where(Person.organization_id == org_id),
                    (Person.created_at, Person.id), cursor=cursor, limit=limit)
