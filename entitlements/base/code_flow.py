"""The relying party's half of an OpenID Connect code flow with PKCE, through Authlib's
client: where to send the browser, and the ID token a code is exchanged for. People's
sign-in (at their organization's provider) and the console's single sign-on (at the lab's)
both use it; each checks the ID token its own way."""

from __future__ import annotations

from typing import Any

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session
from requests import RequestException

TIMEOUT = 10.0


class CodeExchangeFailed(Exception):
    """The provider did not give an ID token for the code; ``reason`` says what failed."""

    def __init__(self, reason: str, what: str) -> None:
        super().__init__(f"{reason}: {what}")
        self.reason, self.what = reason, what


def client(client_id: str, secret: str | None, redirect_uri: str, scope: str
           ) -> OAuth2Session:
    """A PKCE (S256) client, authenticating with HTTP Basic when it has a secret."""
    return OAuth2Session(client_id, secret, scope=scope, redirect_uri=redirect_uri,
                         code_challenge_method="S256",
                         token_endpoint_auth_method="client_secret_basic" if secret
                         else "none")


def authorization_url(session: OAuth2Session, endpoint: str, *, state: str, nonce: str,
                      verifier: str, **extra: Any) -> str:
    url, _ = session.create_authorization_url(endpoint, state=state, code_verifier=verifier,
                                              nonce=nonce, **extra)
    return url


def id_token_for(session: OAuth2Session, token_endpoint: str, *, code: str,
                 verifier: str) -> str:
    """The ID token the provider gives for ``code``: CodeExchangeFailed when it refuses
    (an OAuth error, whatever Authlib calls it), cannot be reached, or gives none."""
    try:
        with session:
            token = session.fetch_token(token_endpoint, grant_type="authorization_code",
                                        code=code, code_verifier=verifier, timeout=TIMEOUT)
    except (AuthlibBaseError, RequestException, ValueError) as error:
        raise CodeExchangeFailed("token_request_failed", type(error).__name__) from None
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise CodeExchangeFailed("no_id_token", "no ID token")
    return id_token
