"""Authlib's AuthorizationServer wired to our clients, grants, keys and ledger."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidClientError, OAuth2Error

from ..attestations import service as attestations
from ..attestations.service import Citizenship
from ..clock import Clock
from ..config import Settings
from ..db import Database
from ..identity_providers import exchange
from ..identity_providers.id_token import SubjectTokenRefused
from ..persons import service as persons
from ..policy.decision import Subject, decide
from ..policy.document import Policy
from ..policy.store import PolicyStore
from ..remote_jwks import RemoteJwks
from ..signing.keyring import KeyRingCache
from ..token_status.allocator import StatusIndexAllocator
from ..token_status.publisher import status_list_uri
from .catalog import Catalog
from .client_auth import PrivateKeyJWT
from .client_record import ClientDirectory, ClientRecord
from .endpoints import Introspection, Revocation
from .errors import ReasonedInvalidRequest, TemporarilyUnavailableError
from .grants import ClientCredentialsGrant
from .ledger import TokenLedger
from .scopes import choose_tiers
from .token_exchange import TokenExchangeGrant
from .tokens import SignedToken, StatusRef, TokenSubject, sign_token


class EntitlementsServer(AuthorizationServer):
    def __init__(
        self, *, db: Database, settings: Settings, clock: Clock, keys: KeyRingCache,
        remote_jwks: RemoteJwks,
    ) -> None:
        self.db, self.settings, self.clock, self.keys = db, settings, clock, keys
        self.remote_jwks = remote_jwks
        self.clients = ClientDirectory(db, settings.client_cache_ttl)
        self.catalog = Catalog(db, settings.client_cache_ttl)
        self.policies = PolicyStore(db, settings.policy_cache_ttl)
        self.status_slots = StatusIndexAllocator(db, clock)
        self.ledger = TokenLedger(db, clock)
        super().__init__(query_client=self.clients.find)
        issuer = settings.issuer
        self.register_client_auth_method("private_key_jwt", PrivateKeyJWT(
            audiences=[issuer, settings.token_endpoint, f"{issuer}/oauth/introspect",
                       f"{issuer}/oauth/revoke"],
            db=db, clock=clock, remote_jwks=remote_jwks,
            max_lifetime=settings.assertion_max_lifetime, leeway=settings.clock_leeway,
        ))
        self.register_grant(ClientCredentialsGrant)
        self.register_grant(TokenExchangeGrant)
        self.register_endpoint(Introspection)
        self.register_endpoint(Revocation)

    def issue_token(self, request: Any) -> SignedToken:
        client: ClientRecord = request.client
        return self._issue(_token_subject(
            request, subject=client.client_id,
            organization_citizenship=client.subject.citizenship))

    def entitle(self, request: Any, subject: Subject) -> None:
        """Decide the subject's tiers under the active policy; keep the requested ones
        (or the client's defaults) on the request, or refuse with the reason."""
        now = self.clock.now()
        policy = self.policies.active(now)
        decision = decide(policy, subject, None, now)
        request.policy = policy
        request.tiers = choose_tiers(request.payload.scope, entitled=decision.granted,
                                     denied=decision.denied, known=policy.tiers,
                                     defaults=request.client.default_tiers)

    def known_citizenship(self, id_token: Any) -> tuple[Citizenship, ...]:
        """The citizenship summary of the person an ID token names, if we know them yet."""
        provider, now = id_token.provider, self.clock.now()
        with self.db.sessions() as session:
            person = persons.find_by_idp(session, provider.organization_id, provider.issuer,
                                         id_token.subject)
            if person is None:
                return ()
            return attestations.citizenship_summary(session, person.id, now,
                                                    min_remaining=attestations.MIN_TOKEN_LIFETIME)

    def exchange_token(self, request: Any) -> SignedToken:
        """Mark the verified ID token used, find its person, and issue a person token."""
        client: ClientRecord = request.client
        now = self.clock.now()
        with self.db.transaction() as session:
            try:
                exchange.consume(session, request.id_token, now)
            except SubjectTokenRefused as refused:
                raise ReasonedInvalidRequest(refused.reason,
                                             f"subject_token: {refused.message}.") from None
            person = exchange.person_for(session, request.id_token, client.client_id, now)
        try:
            return self._issue(_token_subject(
                request, subject=person.id, actor=client.client_id,
                citizenship=request.citizenship,
                identity_provider_id=request.id_token.provider.id))
        except TemporarilyUnavailableError:  # "retry" must then work with the same ID token
            with self.db.transaction() as session:
                exchange.release(session, request.id_token)
            raise

    def _issue(self, who: TokenSubject) -> SignedToken:
        slot = self.status_slots.allocate()
        status = StatusRef(slot.list_id, slot.idx, status_list_uri(self.settings, slot.list_id))
        signed = sign_token(self.keys.get(), who, issuer=self.settings.issuer,
                            now=self.clock.now(),
                            ttl=timedelta(seconds=self.settings.access_token_ttl), status=status)
        self.ledger.record(signed, who)
        return signed

    def authenticate_client(self, request: Any, methods: list[str], endpoint: str = "token"
                            ) -> ClientRecord:
        """Authenticate, then refuse a revoked client or one of a suspended organization."""
        client: ClientRecord = super().authenticate_client(request, methods, endpoint)
        if client.inactive_reason:
            raise InvalidClientError(description=client.inactive_reason, status_code=401)
        return client

    def handle_error_response(self, request: Any, error: OAuth2Error) -> Any:
        if error.error == "invalid_client":
            error.status_code = 401  # RFC 6749 section 5.2, with WWW-Authenticate
        elif error.status_code == 401:
            error.status_code = 400  # e.g. Authlib's unsupported_token_type (RFC 7009 2.2.1)
        return super().handle_error_response(request, error)

    def close(self) -> None:
        """Close the ledger's connections (tests, and a graceful shutdown)."""
        self.ledger.close()

    def invalidate_caches(self) -> None:
        self.clients.invalidate()
        self.catalog.invalidate()
        self.policies.invalidate()


def _token_subject(request: Any, **who: Any) -> TokenSubject:
    """What a token says, from a validated request: the client, its organization, the
    tiers decided under the request's policy version, and ``who`` (subject and the rest)."""
    client: ClientRecord = request.client
    return TokenSubject(
        client_id=client.client_id, organization_id=client.organization_id,
        trust_level=client.trust_level, audience=request.audience, tiers=request.tiers,
        policy_version=request.policy.version,
        max_lifetime=_max_lifetime(request.policy, request.tiers), **who)


def _max_lifetime(policy: Policy, tiers: tuple[str, ...]) -> int | None:
    limits = [policy.tiers[t].max_token_lifetime for t in tiers]
    return min((limit for limit in limits if limit is not None), default=None)
