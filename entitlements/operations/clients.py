"""Registering and revoking OAuth clients."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ..base.actor import Actor
from ..clients import service as clients
from ..clients.models import OAuthClient
from ..policy import service as policy
from ..tokens import revocation


def register(session: Session, actor: Actor, org_id: str, **options: Any
             ) -> clients.Registration:
    """A new client; its default tiers must be tiers of the latest policy version."""
    for tier in options.get("default_tiers") or []:
        policy.get_tier(session, tier)
    return clients.register(session, actor, org_id, **options)


def revoke(session: Session, actor: Actor, client_id: str, reason: str) -> OAuthClient:
    """Revoke a client and every live token it was issued."""
    client = clients.revoke(session, actor, client_id, reason)
    revocation.revoke(session, actor, reason=f"client revoked: {reason}", quiet=True,
                      client_id=client_id)
    return client
