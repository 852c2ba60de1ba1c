"""An upstream provider's OpenID discovery document, checked before sign-in relies on it."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .errors import InvalidInput
from .fetch import FetchFailed, get_bounded
from .urls import is_secure_url

MAX_BYTES = 64 * 1024
TIMEOUT = 5.0


@dataclass(frozen=True)
class Endpoints:
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


def discover(issuer: str) -> Endpoints:
    """Fetch ``{issuer}/.well-known/openid-configuration``; InvalidInput if it is missing,
    names another issuer, lacks the code flow or points anywhere insecure."""
    uri = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        document = json.loads(get_bounded(uri, max_bytes=MAX_BYTES, timeout=TIMEOUT,
                                          accept="application/json"))
    except FetchFailed as error:
        raise InvalidInput(f"the provider's discovery document: {error}") from None
    except ValueError:
        raise InvalidInput(f"{uri} is not JSON") from None
    if not isinstance(document, dict) or document.get("issuer") != issuer:
        raise InvalidInput(f"{uri} names another issuer than {issuer}")
    if "code" not in (document.get("response_types_supported") or []):
        raise InvalidInput("the provider does not support the authorization code flow")
    methods = document.get("code_challenge_methods_supported")
    if methods is not None and "S256" not in methods:
        raise InvalidInput("the provider does not support PKCE with S256")
    found = {name: document.get(name) for name in
             ("authorization_endpoint", "token_endpoint", "jwks_uri")}
    for name, value in found.items():
        if not isinstance(value, str) or not is_secure_url(value) or len(value) > 500:
            raise InvalidInput(f"the provider's {name} is missing or not an https URL")
    return Endpoints(**found)
