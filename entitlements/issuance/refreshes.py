"""Redeeming a refresh token: found (a used one is a replay, which revokes its family), used
once, and decided again as if the person signed in now: their organization's trust, their
provider's standing and their citizenship under the policy in force. The tiers can only
narrow; a refresh that keeps none is refused with the reason, and ends the family."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..audit.targets import Target
from ..base.actor import Actor
from ..identity_providers.models import IdentityProvider
from ..kernel.claims import tier_scope, tiers_from_scope
from ..policy.subjects import person_subject
from ..signin import refresh
from ..signin.refresh import Family
from ..tokens import revocation
from .service import Caller, Entitlement, Issuance

GRANT = "refresh_token"


def end_family(session: Any, actor: Actor, family_id: str, *, reason: str) -> int:
    """Revoke a family's refresh tokens and its live access tokens."""
    jtis = refresh.revoke_family(session, actor, family_id, reason=reason)
    return revocation.revoke_issued(session, actor, jtis, reason=reason,
                                    target=Target("refresh_family", family_id[:16]))


#: Why a presented refresh token cannot be redeemed, as the client reads it.
REFUSALS = {
    "unknown": "The refresh token is unknown, or another client's.",
    "revoked": "The refresh token's sign-in was revoked.",
    "expired": "The sign-in behind the refresh token has ended (its lifetime, or the "
               "verification it rested on).",
    "replayed": "The refresh token was used before; its sign-in is revoked.",
}


def _refusal(row: Any, client_id: str, now: Any) -> str | None:
    if row is None or row.client_id != client_id:
        return "unknown"
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at <= now:
        return "expired"
    return "replayed" if row.used_at is not None else None


class RefreshRefused(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason, self.message = reason, message


@dataclass(frozen=True)
class Presented:
    token_hash: str
    family: Family

    @property
    def tiers(self) -> list[str]:
        return tiers_from_scope(self.family.scope)


class RefreshRedemption:
    def __init__(self, issuance: Issuance) -> None:
        self.issuance = issuance

    def start(self, session: Any, caller: Caller, *, person_id: str, scope: str,
              resource: str | None, identity_provider_id: str, auth_time: Any,
              access_jti: str, not_after: Any, dpop_jkt: str | None) -> str:
        """The first refresh token of a sign-in (in the code redemption's transaction),
        bound to ``dpop_jkt`` if given."""
        now = self.issuance.clock.now()
        family = refresh.start_family(
            client_id=caller.client_id, person_id=person_id, scope=scope, resource=resource,
            identity_provider_id=identity_provider_id, auth_time=auth_time, now=now,
            not_after=not_after, dpop_jkt=dpop_jkt)
        return refresh.issue(session, family, access_jti, now)

    def find(self, token: str, client_id: str) -> Presented:
        """The token if this client may redeem it, else RefreshRefused with the reason; a
        used one is a replay, which revokes its family (committed, though the request
        fails)."""
        now = self.issuance.clock.now()
        with self.issuance.db.transaction() as session:
            row = refresh.find(session, token)
            refused = _refusal(row, client_id, now)
            if refused == "replayed" and row is not None:
                end_family(session, Actor(f"client:{client_id}", now), row.family_id,
                           reason="refresh token replayed")
            if refused is None and row is not None:
                return Presented(row.token_hash, refresh.family_of(row))
        raise RefreshRefused(refused or "unknown", REFUSALS[refused or "unknown"])

    def redeem(self, caller: Caller, presented: Presented, audience: str, jkt: str | None
               ) -> dict[str, Any]:
        """A new access token (bound to the DPoP key ``jkt``, if any) and the next refresh
        token of the family."""
        issuance, now = self.issuance, self.issuance.clock.now()
        family = presented.family
        with issuance.db.transaction() as session:
            if not refresh.consume(session, presented.token_hash, now):
                raise RefreshRefused("used", "The refresh token has been used.")
            idp = session.get(IdentityProvider, family.identity_provider_id)
        try:
            if idp is None or idp.status != "active":
                raise RefreshRefused("idp_suspended", "The identity provider the person "
                                     "signed in with is suspended.")
            return self._issue(caller, presented, audience, jkt)
        except RefreshRefused as refused:
            with issuance.db.transaction() as session:
                end_family(session, Actor(f"client:{caller.client_id}", now),
                                      family.family_id, reason=f"refresh refused: "
                                                               f"{refused.reason}")
            raise

    def _issue(self, caller: Caller, presented: Presented, audience: str, jkt: str | None
               ) -> dict[str, Any]:
        issuance, now, family = self.issuance, self.issuance.clock.now(), presented.family
        citizenship = issuance.person_citizenship(family.person_id)
        policy, decision = issuance.decide(person_subject(caller.organization_id,
                                                          caller.trust_level, citizenship), jkt)
        asked = presented.tiers
        tiers = tuple(sorted(t for t in asked if t in decision.granted))
        if asked and not tiers:
            reason = next((decision.denied[t] for t in asked if t in decision.denied),
                          "not_granted")
            raise RefreshRefused(reason, "None of the tiers this sign-in allowed is granted "
                                         f"any more ({reason}).")
        signed = issuance.issue_for_signed_in(caller, Entitlement(policy, tiers, audience, jkt),
                                              family.person_id, citizenship,
                                              family.identity_provider_id, grant=GRANT)
        not_after = min((x.expires_at for x in citizenship.held), default=None)
        narrowed = Family(family.family_id, family.client_id, family.person_id,
                          signed_in_scope(family.scope, tiers), family.resource,
                          family.identity_provider_id, family.auth_time,
                          min(family.expires_at, not_after) if not_after else family.expires_at,
                          family.dpop_jkt)
        with issuance.db.transaction() as session:
            token = refresh.issue(session, narrowed, signed.jti, now)
        return {"access_token": signed.token, "token_type": signed.token_type,
                "expires_in": signed.expires_in, "scope": narrowed.scope,
                "refresh_token": token}


def signed_in_scope(asked: str, tiers: tuple[str, ...]) -> str:
    """The scope a person's tokens answer with: ``openid`` if it was asked, and the tiers
    granted."""
    openid = ["openid"] if "openid" in asked.split() else []
    return " ".join([*openid, *(tier_scope(t) for t in tiers)])
