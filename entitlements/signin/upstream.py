"""The relying-party half: send the person to their organization's provider (code flow
with PKCE, state and nonce, through Authlib's client) and take its answer: the code
exchanged, the ID token verified with the checks token exchange uses, and its nonce."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from authlib.integrations.requests_client import OAuth2Session

from ..base import code_flow
from ..base.remote_jwks import RemoteJwks
from ..base.sealing import Sealer
from ..identity_providers import exchange
from ..identity_providers.id_token import SubjectTokenRefused, VerifiedIdToken, verify_id_token
from ..identity_providers.models import IdentityProvider
from .errors import SignInRefused

SCOPE = "openid"


def _client(idp: IdentityProvider, sealer: Sealer, redirect_uri: str) -> OAuth2Session:
    secret = sealer.unseal(idp.client_secret_sealed) if idp.client_secret_sealed else None
    return code_flow.client(idp.client_id, secret, redirect_uri, SCOPE)


def authorization_url(idp: IdentityProvider, sealer: Sealer, redirect_uri: str, *,
                      state: str, nonce: str, verifier: str, prompt: str | None) -> str:
    extra: dict[str, Any] = {}
    if prompt == "login":
        extra["prompt"] = "login"  # a fresh sign-in was asked of us: ask it upstream too
    return code_flow.authorization_url(_client(idp, sealer, redirect_uri),
                                       idp.authorization_endpoint, state=state, nonce=nonce,
                                       verifier=verifier, **extra)


def exchange_code(idp: IdentityProvider, sealer: Sealer, redirect_uri: str, *, code: str,
                  verifier: str) -> str:
    """The ID token the provider gives for ``code``."""
    try:
        return code_flow.id_token_for(_client(idp, sealer, redirect_uri), idp.token_endpoint,
                                      code=code, verifier=verifier)
    except code_flow.CodeExchangeFailed as failed:
        raise SignInRefused("upstream_error", "Your organization's sign-in did not complete "
                            f"({failed.what}). Try again.") from None


def verify(session: Any, remote_jwks: RemoteJwks, idp: IdentityProvider, id_token: str, *,
           nonce: str, now: datetime, leeway: timedelta, max_lifetime: timedelta
           ) -> VerifiedIdToken:
    providers, keys = exchange.registry(session, remote_jwks)
    try:
        verified = verify_id_token(id_token, providers=providers,
                                   organization_id=idp.organization_id, key=keys, now=now,
                                   leeway=leeway, max_lifetime=max_lifetime)
    except SubjectTokenRefused as refused:
        raise SignInRefused(f"id_token_{refused.reason}", "Your organization's sign-in "
                            f"could not be accepted: {refused.message}.") from None
    if verified.provider.id != idp.id or verified.claims.get("nonce") != nonce:
        raise SignInRefused("nonce_mismatch", "Your organization's sign-in answered another "
                                              "request.")
    if idp.client_id not in _audiences(verified.claims):
        raise SignInRefused("id_token_wrong_audience", "Your organization's sign-in was not "
                                                       "meant for this service.")
    return verified


def auth_time(verified: VerifiedIdToken, now: datetime) -> datetime:
    value = verified.claims.get("auth_time")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return min(datetime.fromtimestamp(value, UTC), now)
    return now


def _audiences(claims: Any) -> list[str]:
    aud = claims.get("aud")
    return [aud] if isinstance(aud, str) else list(aud or [])
