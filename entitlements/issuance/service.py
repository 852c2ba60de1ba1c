"""The issuance service the OAuth grants call: decide the caller's tiers under the active
policy, then sign a token and record it (with its status-list slot and audit event) before it
is answered. Its collaborators are injected, so grants hold no domain logic of their own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from ..attestations.citizenship import (
    MIN_TOKEN_LIFETIME,
    CitizenshipSummary,
    citizenship_summary,
)
from ..base.clock import Clock
from ..base.db import Database
from ..base.errors import TemporarilyUnavailable
from ..base.metrics import TOKENS_ISSUED
from ..base.remote_jwks import RemoteJwks
from ..base.settings import Settings
from ..identity_providers import exchange
from ..identity_providers.id_token import VerifiedIdToken, verify_id_token
from ..kernel.policy import Decision, Policy, Subject, decide
from ..persons import service as persons
from ..policy.store import PolicyStore
from ..signing.keyring import KeyRingCache
from ..tokens.allocator import StatusIndexAllocator
from ..tokens.ledger import TokenLedger
from ..tokens.status_lists import status_list_uri
from .minting import SignedToken, StatusRef, TokenSubject, sign_token


class Caller(Protocol):
    """The authenticated client a token is issued to (the OAuth layer's client record)."""

    client_id: str
    organization_id: str
    trust_level: str
    subject: Subject
    auth_method: str


@dataclass(frozen=True)
class Entitlement:
    """What a validated token request grants: tiers decided under one policy version, for
    one gateway."""

    policy: Policy
    tiers: tuple[str, ...]
    audience: str
    #: The DPoP key the token is to be bound to (the request's proof), if any.
    jkt: str | None = None

    @property
    def max_lifetime(self) -> int | None:
        """The shortest ``max_token_lifetime`` of the granted tiers, if any sets one."""
        limits = [self.policy.tiers[t].max_token_lifetime for t in self.tiers]
        return min((limit for limit in limits if limit is not None), default=None)


class Issuance:
    def __init__(self, *, db: Database, clock: Clock, settings: Settings, keys: KeyRingCache,
                 policies: PolicyStore, ledger: TokenLedger, status_slots: StatusIndexAllocator,
                 remote_jwks: RemoteJwks) -> None:
        self.db, self.clock, self.settings, self.keys = db, clock, settings, keys
        self.policies, self.ledger, self.status_slots = policies, ledger, status_slots
        self.remote_jwks = remote_jwks

    def decide(self, subject: Subject, jkt: str | None = None) -> tuple[Policy, Decision]:
        """The active policy and what it grants and denies ``subject`` now, in a token
        bound to the DPoP key ``jkt`` or, without one, a bearer token."""
        now = self.clock.now()
        policy = self.policies.active(now)
        return policy, decide(policy, subject._replace(dpop_bound=jkt is not None), None, now)

    def issue_for_client(self, caller: Caller, granted: Entitlement) -> SignedToken:
        """A token about the caller's organization (client credentials)."""
        return self._issue(self._subject(caller, granted, subject=caller.client_id,
                                         organization_citizenship=caller.subject.citizenship),
                           grant="client_credentials")

    def has_identity_provider(self, organization_id: str) -> bool:
        with self.db.sessions() as session:
            return exchange.has_provider(session, organization_id)

    def verify_id_token(self, caller: Caller, token: str) -> VerifiedIdToken:
        """An ID token from the caller's own organization's identity provider, verified
        (SubjectTokenRefused otherwise)."""
        settings = self.settings
        with self.db.sessions() as session:
            providers, keys = exchange.registry(session, self.remote_jwks)
            return verify_id_token(
                token, providers=providers, organization_id=caller.organization_id, key=keys,
                now=self.clock.now(), leeway=timedelta(seconds=settings.clock_leeway),
                max_lifetime=timedelta(seconds=settings.id_token_max_lifetime))

    def known_citizenship(self, id_token: VerifiedIdToken) -> CitizenshipSummary:
        """The citizenship summary of the person an ID token names, if we know them yet."""
        provider, now = id_token.provider, self.clock.now()
        with self.db.sessions() as session:
            person = persons.find_by_idp(session, provider.organization_id, provider.issuer,
                                         id_token.subject)
            if person is None:
                return CitizenshipSummary()
            return citizenship_summary(session, person.id, now, MIN_TOKEN_LIFETIME)

    def issue_for_person(self, caller: Caller, granted: Entitlement, id_token: VerifiedIdToken,
                         citizenship: CitizenshipSummary) -> SignedToken:
        """Mark the ID token used (SubjectTokenRefused if it was), find or create its person,
        and issue a token about them, the caller acting for them (token exchange)."""
        now = self.clock.now()
        with self.db.transaction() as session:
            exchange.consume(session, id_token, now)
            person = exchange.person_for(session, id_token, caller.client_id, now)
        try:
            return self._issue(self._subject(
                caller, granted, subject=person.id, actor=caller.client_id,
                citizenship=citizenship.held, vouched_by=citizenship.vouched_by,
                attestations=citizenship.attestations,
                identity_provider_id=id_token.provider.id), grant="token_exchange")
        except TemporarilyUnavailable:  # "retry" must then work with the same ID token
            with self.db.transaction() as session:
                exchange.release(session, id_token)
            raise

    def person_citizenship(self, person_id: str) -> CitizenshipSummary:
        with self.db.sessions() as session:
            return citizenship_summary(session, person_id, self.clock.now(), MIN_TOKEN_LIFETIME)

    def issue_for_signed_in(self, caller: Caller, granted: Entitlement, person_id: str,
                            citizenship: CitizenshipSummary, identity_provider_id: str, *,
                            grant: str) -> SignedToken:
        """A token about a person who signed in here, for the client they consented to
        (the same claims as token exchange: the client acts for the person)."""
        return self._issue(self._subject(
            caller, granted, subject=person_id, actor=caller.client_id,
            citizenship=citizenship.held, vouched_by=citizenship.vouched_by,
            attestations=citizenship.attestations,
            identity_provider_id=identity_provider_id), grant=grant)

    def _subject(self, caller: Caller, granted: Entitlement, **who: object) -> TokenSubject:
        return TokenSubject(
            client_id=caller.client_id, organization_id=caller.organization_id,
            trust_level=caller.trust_level, audience=granted.audience, tiers=granted.tiers,
            policy_version=granted.policy.version, max_lifetime=granted.max_lifetime,
            jkt=granted.jkt, **who)  # type: ignore[arg-type]

    def _issue(self, who: TokenSubject, *, grant: str) -> SignedToken:
        slot = self.status_slots.allocate()
        status = StatusRef(slot.list_id, slot.idx, status_list_uri(self.settings, slot.list_id))
        signed = sign_token(self.keys.get(), who, issuer=self.settings.issuer,
                            now=self.clock.now(),
                            ttl=timedelta(seconds=self.settings.access_token_ttl), status=status)
        self.ledger.record(signed.record(who))
        TOKENS_ISSUED.labels(grant).inc()
        return signed
