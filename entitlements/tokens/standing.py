"""The rule a token's record is checked against as it is written: does everything the token
rests on still stand?

Issuance reads the client's and organization's standing from a short cache, so a token can
be signed in the instant an organization is suspended, a client revoked, trust lowered, or an
identity provider or attestation issuer suspended. The insert settles it: the token is
recorded already revoked unless, at that moment, its client is active, its organization
verified at no lower trust than the token claims and, for a person token, the identity
provider that named the person and the issuers behind their citizenship are active.

This module is the one definition of that rule. SQLite runs it through SQLAlchemy (writers
are serialized there, so it cannot race a suspension); PostgreSQL's one-statement ledger
compiles the very same expression, whose reads take share locks: a suspension either waits
for the insert (and its bulk revocation then sees the token) or the insert waits for the
suspension (and sees it).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, bindparam, case, func, null, select

from ..attestations.models import AttestationIssuer
from ..base.db import UTCDateTime
from ..clients.models import ClientStatus, OAuthClient
from ..identity_providers.models import IdentityProvider
from ..organizations.models import Organization, OrganizationStatus, TrustLevel

ACTIVE = "active"


@dataclass(frozen=True)
class Shape:
    """What the rule's statement depends on, beside its parameters: for a person token, that
    it names an identity provider and how many attestation issuers vouch for it."""

    has_idp: bool
    vouched: int


def revoked_unless_standing(prefix: str, shape: Shape) -> ColumnElement:
    """NULL while the token stands, else its ``issued_at``: an expression over the bind
    parameters ``{prefix}client_id``, ``{prefix}trust_rank`` (the rank of the trust the
    token claims), ``{prefix}issued_at``, ``{prefix}idp`` and ``{prefix}v0``... (the vouching
    issuers)."""
    standing = [OAuthClient.status == ClientStatus.ACTIVE.value,
                Organization.status == OrganizationStatus.VERIFIED.value,
                _trust_rank(Organization.trust_level) >= bindparam(f"{prefix}trust_rank")]
    if shape.has_idp:
        idp = (select(IdentityProvider.status)
               .where(IdentityProvider.id == bindparam(f"{prefix}idp"))
               .with_for_update(read=True).scalar_subquery())
        standing.append(idp == ACTIVE)
    if shape.vouched:
        ids = [bindparam(f"{prefix}v{j}") for j in range(shape.vouched)]
        held = (select(AttestationIssuer.status).where(AttestationIssuer.id.in_(ids))
                .with_for_update(read=True).subquery())
        # Counted without a WHERE over ``held``: a filter there could be pushed into the
        # locking subquery, which would then skip (and not lock) the rows it filters out.
        inactive = select(func.count(case((held.c.status != ACTIVE, 1)))).select_from(held)
        standing.append(inactive.scalar_subquery() == 0)
    issued_at = bindparam(f"{prefix}issued_at", type_=UTCDateTime())
    return (select(case((and_(*standing), null()), else_=issued_at))
            .join_from(OAuthClient, Organization,
                       Organization.id == OAuthClient.organization_id)
            .where(OAuthClient.client_id == bindparam(f"{prefix}client_id"))
            .with_for_update(read=True, of=[OAuthClient, Organization])
            .scalar_subquery())


def standing_params(prefix: str, token: dict) -> dict:
    """The rule's parameters for one token row (see ``revoked_unless_standing``)."""
    params = {f"{prefix}client_id": token["client_id"],
              f"{prefix}trust_rank": TrustLevel(token["trust_level"]).rank,
              f"{prefix}issued_at": token["issued_at"],
              f"{prefix}idp": token["identity_provider_id"]}
    params.update({f"{prefix}v{j}": issuer for j, issuer in enumerate(token["vouched_by"])})
    return params


def shape_of(token: dict) -> Shape:
    return Shape(bool(token["identity_provider_id"]), len(token["vouched_by"]))


def _trust_rank(level: ColumnElement) -> ColumnElement:
    return case({t.value: t.rank for t in TrustLevel}, value=level, else_=-1)
