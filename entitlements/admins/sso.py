"""The console's relying party: admins sign in with the lab's own OpenID provider
(authorization code with PKCE, state and nonce, through Authlib's client), and the ID token
names the admin by its subject or a verified e-mail address.

The provider's endpoints are discovered on first use and kept; its keys come from its JWKS
(cached, refetched for an unknown kid within a cool-down)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from authlib.integrations.requests_client import OAuth2Session

from ..base import code_flow, jose
from ..base.discovery import Endpoints, discover
from ..base.errors import Forbidden, InvalidInput
from ..base.remote_jwks import JwksUnavailable, RemoteJwks
from ..base.secrets import same

SCOPE = "openid email"
MAX_ID_TOKEN = 16 * 1024


class SsoRefused(Forbidden):
    """The provider's answer cannot sign anyone in; ``reason`` says why."""

    code = "sso_refused"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, detail=reason)
        self.reason = reason


@dataclass(frozen=True)
class SsoConfig:
    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str


@dataclass(frozen=True)
class LoginState:
    """What a sign-in in progress must match when the provider answers."""

    state: str
    nonce: str
    verifier: str


@dataclass(frozen=True)
class SsoIdentity:
    subject: str
    email: str | None


class ConsoleSso:
    def __init__(self, config: SsoConfig, remote_jwks: RemoteJwks, *, leeway: timedelta,
                 max_lifetime: timedelta) -> None:
        self.config, self._jwks = config, remote_jwks
        self._leeway, self._max_lifetime = leeway, max_lifetime
        self._endpoints: Endpoints | None = None

    def start(self) -> tuple[str, LoginState]:
        """Where to send the browser, and what its answer must carry."""
        login = LoginState(secrets.token_urlsafe(24), secrets.token_urlsafe(24),
                           secrets.token_urlsafe(48))
        url = code_flow.authorization_url(self._client(),
                                          self.endpoints().authorization_endpoint,
                                          state=login.state, nonce=login.nonce,
                                          verifier=login.verifier)
        return url, login

    def finish(self, login: LoginState, state: str | None, code: str | None,
               now: datetime) -> SsoIdentity:
        """The identity the provider vouches for in answer to ``login``."""
        if not code or not state or not same(state, login.state):
            raise SsoRefused("state_mismatch", "the sign-in answer does not match this "
                                               "browser's sign-in; start again")
        claims = self._verify(self._exchange(code, login), login, now)
        email = claims.get("email") if claims.get("email_verified") is True else None
        return SsoIdentity(str(claims["sub"]), email if isinstance(email, str) else None)

    def endpoints(self) -> Endpoints:
        if self._endpoints is None:
            try:
                self._endpoints = discover(self.config.issuer)
            except InvalidInput as error:
                raise SsoRefused("discovery_failed", f"the sign-in provider cannot be used: "
                                                     f"{error.message}") from None
        return self._endpoints

    def _client(self) -> OAuth2Session:
        return code_flow.client(self.config.client_id, self.config.client_secret,
                                self.config.redirect_uri, SCOPE)

    def _exchange(self, code: str, login: LoginState) -> str:
        try:
            return code_flow.id_token_for(self._client(), self.endpoints().token_endpoint,
                                          code=code, verifier=login.verifier)
        except code_flow.CodeExchangeFailed as failed:
            raise SsoRefused(failed.reason, "the sign-in provider did not complete the "
                             f"sign-in ({failed.what})") from None

    def _verify(self, id_token: str, login: LoginState, now: datetime) -> dict[str, Any]:
        try:
            header, _ = jose.peek(id_token, MAX_ID_TOKEN)
            alg = jose.allowed_algorithm(header, jose.ASYMMETRIC_ALGORITHMS)
            key = self._key(header.get("kid"))
            claims = jose.verify_signature(id_token, key, alg, audience=[self.config.client_id],
                                           issuer=self.config.issuer,
                                           required=["iss", "sub", "aud", "exp", "iat"])
            jose.check_times(claims, now, self._leeway, self._max_lifetime)
            self._check_party(claims)
        except jose.JwtRefused as refused:
            raise SsoRefused(f"id_token_{refused.reason}", "the sign-in provider's ID token "
                             f"{refused.detail}") from None
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not same(nonce, login.nonce):
            raise SsoRefused("nonce_mismatch", "the ID token answers another sign-in")
        if not isinstance(claims.get("sub"), str) or not 0 < len(claims["sub"]) <= 255:
            raise SsoRefused("id_token_malformed", "the ID token's subject is not usable")
        return claims

    def _key(self, kid: Any) -> jwt.PyJWK:
        try:
            return self._jwks.key(self.endpoints().jwks_uri, kid if isinstance(kid, str)
                                  else None)
        except (LookupError, JwksUnavailable):
            raise jose.JwtRefused("unknown_key") from None

    def _check_party(self, claims: dict[str, Any]) -> None:
        """OpenID Connect Core 3.1.3.7: a token for several audiences names us as its
        authorized party."""
        audience = claims.get("aud")
        if isinstance(audience, list) and len(audience) > 1 and (
                claims.get("azp") != self.config.client_id):
            raise jose.JwtRefused("wrong_audience")
