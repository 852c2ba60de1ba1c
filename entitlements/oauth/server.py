"""Authlib's AuthorizationServer wired to our clients, client authentication, grants and
endpoints. Wiring only: the grants hand validated requests to the issuance service, the
endpoints read and revoke tokens through the token package, and every OAuth error is
raised to the web layer, which renders it (``web.errors``)."""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidClientError, OAuth2Error

from ..base.clock import Clock
from ..base.db import Database
from ..base.remote_jwks import RemoteJwks
from ..base.settings import Settings
from ..issuance.codes import CodeRedemption
from ..issuance.refreshes import RefreshRedemption
from ..issuance.service import Issuance
from ..resources.directory import ResourceDirectory
from ..signing.keyring import KeyRingCache
from .authorization_code import AuthorizationCodeGrant, S256Challenge
from .client_auth import PrivateKeyJWT
from .client_record import ClientDirectory, ClientRecord
from .device_code import DeviceCodeGrant
from .endpoints import Introspection, Revocation
from .errors import authentication_failed
from .grants import ClientCredentialsGrant
from .refresh_token import RefreshTokenGrant
from .token_exchange import TokenExchangeGrant


class EntitlementsServer(AuthorizationServer):
    def __init__(
        self, *, db: Database, settings: Settings, clock: Clock, keys: KeyRingCache,
        remote_jwks: RemoteJwks, issuance: Issuance, clients: ClientDirectory,
        resources: ResourceDirectory,
    ) -> None:
        self.db, self.settings, self.clock, self.keys = db, settings, clock, keys
        self.issuance, self.clients, self.resources = issuance, clients, resources
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

    def handle_error_response(self, request: Any, error: OAuth2Error) -> Any:
        """Raised, not rendered: errors become HTTP in one place, the web layer."""
        raise error
