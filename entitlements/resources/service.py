"""Register model gateways and resolve a request's ``resource`` (RFC 8707) to one."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..base.actor import Actor
from ..base.errors import Conflict, InvalidInput
from .models import ResourceServer


def register(
    session: Session, actor: Actor, identifier: str, name: str, *, default: bool = False
) -> ResourceServer:
    validate_identifier(identifier)
    if session.get(ResourceServer, identifier) is not None:
        raise Conflict(f"resource {identifier!r} is already registered")
    if default:
        session.execute(update(ResourceServer).values(is_default=False))
    resource = ResourceServer(
        identifier=identifier, name=name, is_default=default, created_at=actor.now
    )
    session.add(resource)
    audit.record(
        session, at=actor.now, actor=actor.name, action="resource.registered",
        target=identifier, details={"name": name, "default": default},
    )
    return resource


def list_all(session: Session) -> list[ResourceServer]:
    return list(session.scalars(select(ResourceServer).order_by(ResourceServer.identifier)))


def validate_identifier(identifier: str) -> None:
    """RFC 8707 section 2: an absolute URI without a fragment."""
    parts = urlsplit(identifier)
    if not parts.scheme or not parts.netloc or parts.fragment or len(identifier) > 500:
        raise InvalidInput("a resource must be an absolute URI without a fragment")
