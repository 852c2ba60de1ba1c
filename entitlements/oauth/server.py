"""Authlib's AuthorizationServer wired to our clients, client authentication, grants and
endpoints. Wiring only: the grants hand validated requests to the issuance service, the
endpoints read and revoke tokens through the token package, and every OAuth error is
raised to the web layer, which renders it (``web.errors``)."""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidClientError, OAuth2Error, OAuth2Request

from ..base.clock import Clock
from ..base.db import Database
from ..base.remote_jwks import RemoteJwks
from ..base.settings import Settings
from ..dpop.proofs import ProofChecker
from ..issuance.codes import CodeRedemption
from ..issuance.refreshes import RefreshRedemption
from ..issuance.service import Issuance
from ..kernel import dpop
from ..kernel.dpop import ProofRefused
from ..resources.directory import ResourceDirectory
from ..signing.keyring import KeyRingCache
from .authorization_code import AuthorizationCodeGrant, S256Challenge
from .client_auth import PrivateKeyJWT
from .client_record import ClientDirectory, ClientRecord
from .device_code import DeviceCodeGrant
from .dpop import DpopChallenge, proof_error
from .endpoints import Introspection, Revocation
from .errors import authentication_failed
from .grants import ClientCredentialsGrant
from .refresh_token import RefreshTokenGrant
from .token_exchange import TokenExchangeGrant


class EntitlementsServer(AuthorizationServer):
    def __init__(
        self, *, db: Database, settings: Settings, clock: Clock, keys: KeyRingCache,
        remote_jwks: RemoteJwks, issuance: Issuance, clients: ClientDirectory,
        resources: ResourceDirectory, proofs: ProofChecker,
    ) -> None:
        self.db, self.settings, self.clock, self.keys = db, settings, clock, keys
        self.issuance, self.clients, self.resources = issuance, clients, resources
        self.proofs = proofs
        super().__init__(query_client=clients.find)
        issuer = settings.issuer
        self.register_client_auth_method("private_key_jwt", PrivateKeyJWT(
            audiences=[issuer, settings.token_endpoint, f"{issuer}/oauth/introspect",
                       f"{issuer}/oauth/revoke"],
            db=db, clock=clock, remote_jwks=remote_jwks,
            max_lifetime=settings.assertion_max_lifetime, leeway=settings.clock_leeway,
        ))
        self.refreshes = RefreshRedemption(issuance)
        self.codes = CodeRedemption(issuance, self.refreshes)
        self.register_grant(ClientCredentialsGrant)
        self.register_grant(TokenExchangeGrant)
        self.register_grant(AuthorizationCodeGrant, [S256Challenge(required=True)])
        self.register_grant(RefreshTokenGrant)
        self.register_grant(DeviceCodeGrant)
        self.register_endpoint(Introspection)
        self.register_endpoint(Revocation)

    def authenticate_client(self, request: Any, methods: list[str], endpoint: str = "token"
                            ) -> ClientRecord:
        """Authenticate, then refuse a revoked client or one of a suspended organization.
        Every failure answers the same message; what failed is kept for the audit event."""
        try:
            client: ClientRecord = super().authenticate_client(request, methods, endpoint)
        except InvalidClientError as error:
            raise authentication_failed(error.description) from None
        if client.inactive_reason:
            raise InvalidClientError(description=client.inactive_reason, status_code=401)
        return client

    def token_response(self, dpop_headers: list[str]) -> Any:
        """The token endpoint's answer. A DPoP proof, if the request carries one, is
        checked and spent first; the grant binds the tokens to its key (``request.dpop``).
        With nonces on, every answer hands out the current one."""
        nonce = self.proofs.nonce()
        proof = self.proof_for(dpop_headers, self.settings.token_endpoint)
        request = self.create_oauth2_request(None)
        request.dpop = proof
        response = self.create_token_response(request)
        if nonce is not None:
            response.headers[dpop.NONCE_HEADER] = nonce
        return response

    def proof_for(self, dpop_headers: list[str], uri: str) -> dpop.Proof | None:
        """The DPoP proof of a POST to this server's endpoint ``uri``, checked and spent;
        None without one; the OAuth error (``invalid_dpop_proof``, ``use_dpop_nonce``) for
        a refused one."""
        try:
            return self.proofs.check(dpop_headers, method="POST", uri=uri)
        except ProofRefused as refused:
            raise proof_error(refused, self.proofs.nonce()) from None

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        """Authlib's request, with the DPoP proof a token request was checked with (None
        elsewhere); one already made is passed through."""
        if isinstance(request, OAuth2Request):
            return request
        made = super().create_oauth2_request(request)
        made.dpop = None
        return made

    def resource_proof(self, dpop_headers: list[str], *, method: str, uri: str,
                       token: str, jkt: str) -> None:
        """The proof a DPoP-bound token must come with at this server's own resources
        (userinfo): checked, spent, and by the key the token is bound to."""
        try:
            proof = self.proofs.check(dpop_headers, method=method, uri=uri, access_token=token,
                                      bound_to=jkt)
            if proof is None:
                raise ProofRefused("dpop_proof_required")
        except ProofRefused as refused:
            raise DpopChallenge(refused, self.proofs.nonce()) from None

    def handle_error_response(self, request: Any, error: OAuth2Error) -> Any:
        """Raised, not rendered: errors become HTTP in one place, the web layer."""
        raise error
