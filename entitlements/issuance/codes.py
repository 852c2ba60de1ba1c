"""Redeeming an authorization code at the token endpoint: the code found (a replay
revokes what its first use issued), then, once the client and its PKCE verifier have
passed, used exactly once, decided again under the policy in force, and answered with an
entitlement token and an ID token."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError

from ..audit import targets
from ..base.actor import Actor
from ..clients.models import AuthMethod
from ..kernel.claims import tiers_from_scope
from ..persons import service as persons
from ..persons.models import Person
from ..policy.subjects import person_subject
from ..signin import codes
from ..tokens import revocation
from .id_tokens import SignIn, sign_id_token
from .refreshes import RefreshRedemption, signed_in_scope
from .service import Caller, Entitlement, Issuance

GRANT = "authorization_code"


@dataclass(frozen=True)
class SignedInGrant:
    """What a completed sign-in grants: the person, and the request's and the sign-in's
    parameters (scope, nonce, resource, auth_time, acr, amr, identity_provider_id)."""

    person_id: str
    params: dict[str, Any]

    def get_scope(self) -> str:
        return self.params["scope"]

    def get_nonce(self) -> str | None:
        return self.params.get("nonce")

    def get_auth_time(self) -> int:
        return self.params["auth_time"]

    @property
    def tiers(self) -> list[str]:
        return tiers_from_scope(self.get_scope())


@dataclass(frozen=True)
class CodeGrant(SignedInGrant):
    """An unused, unexpired code, as Authlib's grant and its PKCE extension read it."""

    code_hash: str = ""
    client_id: str = ""

    def get_redirect_uri(self) -> str:
        return self.params["redirect_uri"]

    @property
    def code_challenge(self) -> str | None:
        return self.params.get("code_challenge")

    @property
    def code_challenge_method(self) -> str | None:
        return self.params.get("code_challenge_method")


class CodeRedemption:
    def __init__(self, issuance: Issuance, refreshes: RefreshRedemption) -> None:
        self.issuance, self.refreshes = issuance, refreshes

    def find(self, code: str, client_id: str) -> CodeGrant | None:
        """The code if it can be redeemed; a used one is a replay: what it issued is revoked
        (committed, though the request fails), and nothing is returned."""
        now = self.issuance.clock.now()
        with self.issuance.db.transaction() as session:
            row = codes.find(session, code, client_id)
            if row is None or row.expires_at <= now:
                return None
            if row.used_at is not None:
                revocation.revoke_issued(
                    session, Actor(f"client:{client_id}", now), list(row.issued_jtis or []),
                    reason="authorization code replayed",
                    target=targets.person(row.person_id,
                                          persons.organization_of(session, row.person_id)))
                return None
            return CodeGrant(row.person_id, dict(row.params), row.code_hash, row.client_id)

    def redeem(self, caller: Caller, grant: CodeGrant, audience: str, *,
               with_refresh: bool, jkt: str | None) -> dict[str, Any]:
        """Use the code (one winner), decide, issue, and record what was issued."""
        with self.issuance.db.transaction() as session:
            if not codes.consume(session, grant.code_hash, self.issuance.clock.now()):
                raise InvalidGrantError("The code has been used.")
        return self.tokens_for(caller, grant, audience, with_refresh=with_refresh, jkt=jkt,
                               record=lambda session, jti: codes.record_issued(
                                   session, grant.code_hash, [jti]))

    def tokens_for(self, caller: Caller, grant: SignedInGrant, audience: str, *,
                   with_refresh: bool, record: Callable[[Any, str], None], jkt: str | None,
                   grant_type: str = GRANT) -> dict[str, Any]:
        """The tokens of a sign-in the person completed (a code redeemed, a device code
        approved): decided now, recorded (``record``) with the refresh token's family. With
        a DPoP key ``jkt``, the access token is bound to it, and so is a public client's
        refresh token."""
        issuance, now = self.issuance, self.issuance.clock.now()
        with issuance.db.sessions() as session:
            person = session.get(Person, grant.person_id)
        if person is None:
            raise InvalidGrantError("The person the grant was issued for is gone.")
        citizenship = issuance.person_citizenship(person.id)
        policy, decision = issuance.decide(person_subject(caller.organization_id,
                                                          caller.trust_level, citizenship), jkt)
        tiers = tuple(sorted(t for t in grant.tiers if t in decision.granted))
        signed = issuance.issue_for_signed_in(
            caller, Entitlement(policy, tiers, audience, jkt), person.id, citizenship,
            grant.params.get("identity_provider_id") or "", grant=grant_type)
        body: dict[str, Any] = {"access_token": signed.token, "token_type": signed.token_type,
                                "expires_in": signed.expires_in,
                                "scope": signed_in_scope(grant.get_scope(), tiers)}
        with issuance.db.transaction() as session:
            record(session, signed.jti)
            if with_refresh:
                body["refresh_token"] = self.refreshes.start(
                    session, caller, person_id=person.id, scope=body["scope"],
                    resource=grant.params.get("resource"),
                    identity_provider_id=grant.params.get("identity_provider_id") or "",
                    auth_time=datetime.fromtimestamp(grant.get_auth_time(), UTC),
                    access_jti=signed.jti,
                    not_after=min((x.expires_at for x in citizenship.held), default=None),
                    # A public client's refresh tokens are bound to its key (RFC 9449 5).
                    dpop_jkt=jkt if caller.auth_method == AuthMethod.NONE else None)
        if "openid" in grant.get_scope().split():
            body["id_token"] = sign_id_token(
                issuance.keys, SignIn(person.id, grant.get_auth_time(), grant.get_nonce(),
                                            grant.params.get("acr"), grant.params.get("amr")),
                issuer=issuance.settings.issuer, client_id=caller.client_id,
                access_token=signed.token, now=now,
                ttl=timedelta(seconds=issuance.settings.access_token_ttl))
        return body

