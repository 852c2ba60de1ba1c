"""Suspending and reinstating the parties whose word person tokens rest on: attestation
issuers and organizations' identity providers."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..attestations import issuers
from ..attestations.models import AttestationIssuer
from ..audit.targets import Target
from ..base.actor import Actor
from ..identity_providers import service as idps
from ..identity_providers.models import IdentityProvider
from ..tokens import revocation


def set_issuer_status(session: Session, actor: Actor, issuer_id: str, status: str,
                      reason: str) -> AttestationIssuer:
    """Suspending an issuer also revokes the live tokens of every person it vouched for:
    their citizenship summaries no longer hold, and gateways read only the tokens."""
    issuer = issuers.set_status(session, actor, issuer_id, status, reason)
    if status == "suspended":
        revocation.revoke_subjects(session, actor, issuers.vouched_for(issuer.id, actor.now),
                                   reason=f"attestation issuer suspended: {reason}",
                                   target=Target("attestation_issuer", issuer.id))
    return issuer


def set_idp_status(session: Session, actor: Actor, idp_id: str, status: str, reason: str
                   ) -> IdentityProvider:
    """Suspending an identity provider also revokes the live tokens of the persons it
    signed in."""
    idp = idps.set_status(session, actor, idp_id, status, reason)
    if status == "suspended":
        revocation.revoke_subjects(session, actor, idps.signed_in(idp),
                                   reason=f"identity provider suspended: {reason}",
                                   target=Target("identity_provider", idp.id,
                                                 idp.organization_id))
    return idp
