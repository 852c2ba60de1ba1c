"""Entitlement tokens: RFC 9068 JWT access tokens carrying the granted tiers, one claim set for
every way in (client credentials, token exchange)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..base.clock import epoch
from ..kernel import claims as c
from ..kernel import dpop
from ..kernel import status_list as sl
from ..kernel.policy import Citizenship
from ..signing.compact import sign_compact
from ..signing.keyring import KeyRing
from ..tokens.ledger import TokenRecord


@dataclass(frozen=True)
class TokenSubject:
    """Who the token is about and what it grants."""

    subject: str
    client_id: str
    organization_id: str
    trust_level: str
    audience: str
    tiers: tuple[str, ...]
    #: For a person subject: the client acting for them, and their verified citizenship.
    actor: str | None = None
    citizenship: tuple[Citizenship, ...] | None = None
    policy_version: int | None = None
    #: The organization's own citizenship attestation (client-credentials subjects).
    organization_citizenship: tuple[Citizenship, ...] = ()
    #: The shortest ``max_token_lifetime`` of the granted tiers, if any sets one.
    max_lifetime: int | None = None
    #: For a person subject: the identity provider that named them and the attestation
    #: issuers behind their citizenship. The ledger records the token revoked if any of them
    #: was suspended meanwhile.
    identity_provider_id: str | None = None
    vouched_by: tuple[str, ...] = ()
    #: The verifications behind ``citizenship`` (recorded with the grant, never in it).
    attestations: tuple[str, ...] = ()
    #: The DPoP key the token is bound to (RFC 9449 ``cnf.jkt``), or None: a bearer token.
    jkt: str | None = None

    @property
    def not_after(self) -> datetime | None:
        """No token outlives the verifications its citizenship summary came from."""
        return min((x.expires_at for x in self.citizenship or ()), default=None)


@dataclass(frozen=True)
class StatusRef:
    """The token's entry in a status list."""

    list_id: int
    idx: int
    uri: str


@dataclass(frozen=True)
class SignedToken:
    token: str
    jti: str
    kid: str
    issued_at: datetime
    expires_at: datetime
    scope: str
    status: StatusRef | None = None
    jkt: str | None = None

    @property
    def expires_in(self) -> int:
        return int((self.expires_at - self.issued_at).total_seconds())

    @property
    def token_type(self) -> str:
        """RFC 9449 5: ``DPoP`` for a bound token, else ``Bearer``."""
        return dpop.SCHEME if self.jkt else "Bearer"

    def record(self, who: TokenSubject) -> TokenRecord:
        """What the ledger keeps of this token."""
        return TokenRecord(
            jti=self.jti, client_id=who.client_id, organization_id=who.organization_id,
            subject=who.subject, audience=who.audience, scope=self.scope, tiers=who.tiers,
            kid=self.kid, issued_at=self.issued_at, expires_at=self.expires_at,
            trust_level=who.trust_level, policy_version=who.policy_version,
            identity_provider_id=who.identity_provider_id, vouched_by=who.vouched_by,
            attestations=who.attestations,
            status_list_id=self.status.list_id if self.status else None,
            status_idx=self.status.idx if self.status else None, cnf_jkt=self.jkt)


def build_claims(
    who: TokenSubject, *, issuer: str, jti: str, issued_at: datetime, expires_at: datetime,
    status: StatusRef | None = None,
) -> dict[str, Any]:
    return {
        c.ISSUER: issuer,
        c.SUBJECT: who.subject,
        c.AUDIENCE: who.audience,
        c.EXPIRES_AT: epoch(expires_at),
        c.ISSUED_AT: epoch(issued_at),
        c.NOT_BEFORE: epoch(issued_at),
        c.JWT_ID: jti,
        c.CLIENT_ID: who.client_id,
        c.SCOPE: " ".join(c.tier_scope(t) for t in who.tiers),
        c.ENTITLEMENTS: list(who.tiers),
        c.ORGANIZATION: _organization_claim(who),
        c.CLAIMS_VERSION_CLAIM: c.CLAIMS_VERSION,
        **_person_claims(who),
        **_status_claims(who, status),
        **({c.CONFIRMATION: {dpop.THUMBPRINT: who.jkt}} if who.jkt else {}),
    }


def _status_claims(who: TokenSubject, status: StatusRef | None) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    if who.policy_version is not None:
        claims[c.POLICY_VERSION] = who.policy_version
    if status is not None:
        claims[c.STATUS] = {sl.STATUS_LIST: {sl.IDX: status.idx, sl.URI: status.uri}}
    return claims


def _organization_claim(who: TokenSubject) -> dict[str, Any]:
    claim: dict[str, Any] = {"id": who.organization_id, "trust": who.trust_level}
    if who.organization_citizenship:
        claim[c.CITIZENSHIP] = _citizenship_claim(who.organization_citizenship)
    return claim


def _person_claims(who: TokenSubject) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    if who.actor is not None:
        claims[c.ACTOR] = {c.SUBJECT: who.actor}
    if who.citizenship is not None:
        claims[c.CITIZENSHIP] = _citizenship_claim(who.citizenship)
    return claims


def _citizenship_claim(held: tuple[Citizenship, ...]) -> list[dict[str, Any]]:
    return [{c.NATIONALITY: x.nationality, c.ASSURANCE_LEVEL: x.level,
             c.EXPIRES_AT: epoch(x.expires_at)} for x in held]


def sign_token(
    ring: KeyRing, who: TokenSubject, *, issuer: str, now: datetime, ttl: timedelta,
    status: StatusRef | None = None,
) -> SignedToken:
    info, private_key = ring.signer(now)
    jti = secrets.token_urlsafe(18)
    issued_at = now.replace(microsecond=0)
    if who.max_lifetime is not None:
        ttl = min(ttl, timedelta(seconds=who.max_lifetime))
    expires_at = issued_at + ttl
    if who.not_after is not None:
        expires_at = min(expires_at, who.not_after.replace(microsecond=0))
    claims = build_claims(who, issuer=issuer, jti=jti, issued_at=issued_at,
                          expires_at=expires_at, status=status)
    token = sign_compact(claims, private_key, alg=info.alg, kid=info.kid,
                         typ=c.ACCESS_TOKEN_TYP)
    return SignedToken(token, jti, info.kid, issued_at, expires_at, claims[c.SCOPE], status,
                       who.jkt)
