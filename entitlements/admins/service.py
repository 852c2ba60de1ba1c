"""Admins (named people with roles and a single sign-on identity) and their API keys (256
random bits, shown once, stored as a digest). Every change is audited."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..audit.targets import Target
from ..base.actor import Actor
from ..base.db import fetch, serialize
from ..base.errors import Conflict, InvalidInput, NotFound
from ..base.ids import new_id
from ..base.pages import Page, paginate
from ..base.secrets import check_secret, generate_secret, hash_secret
from .models import Admin, AdminKey, ConsoleSession
from .roles import Principal, Role, parse_roles

KEY_PREFIX = "eak_"
NAME = re.compile(r"^[A-Za-z0-9._@-]{1,100}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
STATUSES = ("active", "disabled")


@dataclass(frozen=True)
class IssuedKey:
    key: AdminKey
    secret: str


def add(session: Session, actor: Actor, name: str, roles: Iterable[str], *,
        email: str | None = None, sso_subject: str | None = None) -> Admin:
    """A new admin with ``roles``, known to the single sign-on by ``email`` or
    ``sso_subject`` (either may be added later)."""
    if not NAME.match(name):
        raise InvalidInput("an admin name is 1 to 100 letters, digits, '.', '_', '@' or '-'")
    if session.get(Admin, name) is not None:
        raise Conflict(f"admin {name!r} already exists", code="admin_exists")
    admin = Admin(name=name, roles=_roles(roles), status="active", created_at=actor.now,
                  updated_at=actor.now)
    _set_identity(session, admin, email, sso_subject)
    session.add(admin)
    session.flush()
    audit.record(session, actor, "admin.created", target=Target("admin", name),
                 details={"roles": admin.roles, "email": admin.email is not None,
                          "sso_subject": admin.sso_subject is not None})
    return admin


def find(session: Session, name: str) -> Admin | None:
    return session.get(Admin, name)


def get(session: Session, name: str, *, lock: bool = False) -> Admin:
    admin = fetch(session, Admin, name, lock=lock)
    if admin is None:
        raise NotFound(f"no admin named {name!r}")
    return admin


def signing_on(session: Session, now: datetime, *, email: str | None, subject: str
               ) -> Admin | None:
    """The admin a single sign-on identity names: the one bound to its subject, else the
    one with its verified e-mail address and no subject yet (which, if the admin is active,
    is then bound to it: an address the provider later gives someone else signs nobody
    in)."""
    found = session.scalar(select(Admin).where(Admin.sso_subject == subject))
    if found is not None or not email:
        return found
    found = session.scalar(select(Admin).where(Admin.email == email.lower(),
                                               Admin.sso_subject.is_(None)))
    if found is not None and found.status == "active":
        found.sso_subject = subject
        audit.record(session, Actor(f"admin:{found.name}", now), "admin.sso_bound",
                     target=Target("admin", found.name))
    return found


def list_admins(session: Session, *, cursor: str | None = None, limit: int = 100
                ) -> Page[Admin]:
    return paginate(session, select(Admin), (Admin.name,), cursor=cursor, limit=limit)


def update(session: Session, actor: Actor, name: str, *, roles: Iterable[str] | None = None,
           status: str | None = None, email: str | None = None,
           sso_subject: str | None = None) -> Admin:
    """Change an admin's roles, status or sign-on identity. The last active owner cannot be
    demoted or disabled (of two racing, one waits for the other); disabling ends the admin's
    console sessions at once."""
    serialize(session, "admins")
    admin = get(session, name, lock=True)
    before: dict[str, Any] = {"roles": list(admin.roles), "status": admin.status}
    if roles is not None:
        admin.roles = _roles(roles)
    if status is not None:
        if status not in STATUSES:
            raise InvalidInput("status is active or disabled")
        admin.status = status
    if email is not None or sso_subject is not None:
        _set_identity(session, admin, email, sso_subject)
    _keep_an_owner(session, admin, before)
    if admin.status == "disabled":
        session.execute(sql_update(ConsoleSession).where(ConsoleSession.admin == name,
                                                     ConsoleSession.ended_at.is_(None))
                        .values(ended_at=actor.now))
    admin.updated_at = actor.now
    audit.record(session, actor, "admin.updated", target=Target("admin", name),
                 details={"before": before, "after": {"roles": admin.roles,
                                                      "status": admin.status}})
    return admin


def _keep_an_owner(session: Session, admin: Admin, before: dict[str, Any]) -> None:
    was_owner = Role.OWNER in before["roles"] and before["status"] == "active"
    still = Role.OWNER in admin.roles and admin.status == "active"
    if not was_owner or still:
        return
    session.flush()
    others = session.scalars(select(Admin).where(Admin.status == "active",
                                                 Admin.name != admin.name)).all()
    if not any(Role.OWNER in other.roles for other in others):
        raise Conflict("this is the last active owner; make another admin owner first",
                       code="last_owner")


def _roles(roles: Iterable[str]) -> list[str]:
    try:
        parsed = parse_roles(roles)
    except ValueError as error:
        raise InvalidInput(str(error), code="unknown_role") from None
    if not parsed:
        raise InvalidInput("give an admin at least one role", code="no_role")
    return sorted(parsed)


def _set_identity(session: Session, admin: Admin, email: str | None,
                  subject: str | None) -> None:
    if email is not None:
        email = email.strip().lower()
        if email and not EMAIL.match(email):
            raise InvalidInput("the e-mail address is not valid")
        taken = session.scalar(select(Admin.name).where(Admin.email == email,
                                                        Admin.name != admin.name))
        if email and taken:
            raise Conflict(f"admin {taken} already has that e-mail address")
        admin.email = email or None
    if subject is not None:
        if len(subject) > 255:
            raise InvalidInput("the single sign-on subject is at most 255 characters")
        taken = session.scalar(select(Admin.name).where(Admin.sso_subject == subject,
                                                        Admin.name != admin.name))
        if subject and taken:
            raise Conflict(f"admin {taken} already has that single sign-on subject")
        admin.sso_subject = subject or None


def issue(session: Session, actor: Actor, name: str, roles: Iterable[str] | None = None
          ) -> IssuedKey:
    """An API key for admin ``name`` acting with ``roles`` (default: all the admin's),
    each of which the admin must hold."""
    admin = get(session, name)
    wanted = _roles(roles) if roles is not None else list(admin.roles)
    beyond = sorted(set(wanted) - set(admin.roles))
    if beyond:
        raise InvalidInput(f"admin {name} does not hold {', '.join(beyond)}",
                           code="role_not_held")
    secret = KEY_PREFIX + generate_secret()
    key = AdminKey(id=new_id("adm"), name=name, roles=wanted, key_hash=hash_secret(secret),
                   created_at=actor.now)
    session.add(key)
    audit.record(session, actor, "admin.key_issued", target=Target("admin_key", key.id),
                 details={"admin": name, "roles": wanted})
    return IssuedKey(key, secret)


def list_keys(session: Session, *, admin: str | None = None, live: bool = False,
              cursor: str | None = None, limit: int = 100) -> Page[AdminKey]:
    """Admin keys, oldest first: one admin's, and with ``live`` those not revoked."""
    query = select(AdminKey)
    if admin:
        query = query.where(AdminKey.name == admin)
    if live:
        query = query.where(AdminKey.revoked_at.is_(None))
    return paginate(session, query, (AdminKey.created_at, AdminKey.id), cursor=cursor,
                    limit=limit)


def revoke(session: Session, actor: Actor, key_id: str) -> AdminKey:
    key = fetch(session, AdminKey, key_id, lock=True)
    if key is None:
        raise NotFound(f"no admin key with id {key_id!r}")
    if key.revoked_at is not None:
        raise Conflict(f"admin key {key_id} is already revoked")
    key.revoked_at = actor.now
    audit.record(session, actor, "admin.key_revoked", target=Target("admin_key", key.id),
                 details={"admin": key.name})
    return key


def authenticate(session: Session, presented: str) -> Principal | None:
    """The admin of a valid, unrevoked key, with the key's roles that the active admin still
    holds; None otherwise."""
    if not presented.startswith(KEY_PREFIX) or len(presented) > 100:
        return None
    key = session.scalar(select(AdminKey).where(AdminKey.key_hash == hash_secret(presented)))
    if key is None or key.revoked_at is not None or not check_secret(presented, key.key_hash):
        return None
    admin = session.get(Admin, key.name)
    if admin is None or admin.status != "active":
        return None
    return Principal(admin.name, frozenset(key.roles) & frozenset(admin.roles))


def principal(admin: Admin) -> Principal | None:
    """An active admin as a principal with all their roles (a console session)."""
    return Principal(admin.name, frozenset(admin.roles)) if admin.status == "active" else None
