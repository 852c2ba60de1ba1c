"""Register model gateways and resolve a request's ``resource`` (RFC 8707) to one."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..audit.targets import Target
from ..base.actor import Actor
from ..base.errors import Conflict, InvalidInput
from ..base.pages import Page, paginate
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
    audit.record(session, actor, "resource.registered", target=Target("resource", identifier),
                 details={"name": name, "default": default})
    return resource


def list_all(session: Session, *, cursor: str | None = None, limit: int = 100
             ) -> Page[ResourceServer]:
    return paginate(session, select(ResourceServer), (ResourceServer.identifier,),
                    cursor=cursor, limit=limit)


def validate_identifier(identifier: str) -> None:
    """RFC 8707 section 2: an absolute URI without a fragment."""
    parts = urlsplit(identifier)
    if not parts.scheme or not parts.netloc or parts.fragment or len(identifier) > 500:
        raise InvalidInput("a resource must be an absolute URI without a fragment")
