"""What the authorization endpoint checks beyond Authlib's validation (client, redirect
URI, response type, PKCE): the scopes, ``prompt``, ``max_age``, ``nonce``, ``state``,
``resource`` (RFC 8707) and ``dpop_jkt`` (RFC 9449 10); the result is what the pending
request keeps.

Every error raised here goes back to the client's redirect URI, which Authlib has already
matched to the client."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError, InvalidScopeError, OAuth2Error

from ..kernel.claims import TIER_SCOPE_PREFIX
from ..kernel.dpop import ProofRefused
from ..resources.directory import Resources
from .dpop import proof_error
from .errors import echo
from .scopes import MAX_SCOPES, choose_audience

PROMPTS = frozenset({"none", "login", "consent"})
MAX_STATE = 500
MAX_NONCE = 255
MAX_AGE = 10 * 365 * 86400
JKT = re.compile(r"[A-Za-z0-9_-]{43}")


def authorization_params(payload: Any, redirect_uri: str, *, tiers: Collection[str],
                         resources: Resources, proof_jkt: str | None = None
                         ) -> dict[str, Any]:
    """The request's validated parameters; ``proof_jkt`` is the key of the DPoP proof a
    pushed request came with, which binds the code as ``dpop_jkt`` would."""
    data, datalist = payload.data, payload.datalist
    try:
        return {
            "redirect_uri": redirect_uri, "scope": _scope(data.get("scope") or "", tiers),
            "state": _bounded(data, "state", MAX_STATE), "nonce": _bounded(data, "nonce",
                                                                            MAX_NONCE),
            "code_challenge": data["code_challenge"], "code_challenge_method": "S256",
            "prompt": _prompt(data.get("prompt")), "max_age": _max_age(data.get("max_age")),
            "resource": _resource(datalist.get("resource", []), resources),
            "dpop_jkt": _dpop_jkt(data.get("dpop_jkt"), proof_jkt)}
    except OAuth2Error as error:
        error.redirect_uri = redirect_uri
        error.state = data.get("state")
        raise


def _scope(scope: str, tiers: Collection[str]) -> str:
    names = scope.split()
    if len(names) > MAX_SCOPES:
        raise InvalidScopeError(f"At most {MAX_SCOPES} scopes may be requested.")
    for name in names:
        if name == "openid":
            continue
        if not name.startswith(TIER_SCOPE_PREFIX):
            raise InvalidScopeError(f"Unknown scope '{echo(name)}'; scopes are 'openid' and "
                                    "tiers such as 'tier:public'.")
        if name[len(TIER_SCOPE_PREFIX):] not in tiers:
            raise InvalidScopeError(f"Unknown tier '{echo(name)}'.")
    return " ".join(dict.fromkeys(names))


def _bounded(data: dict, name: str, limit: int) -> str | None:
    value = data.get(name)
    if value is not None and len(value) > limit:
        raise InvalidRequestError(f"'{name}' is longer than {limit} characters.")
    return value


def _prompt(value: str | None) -> str | None:
    if not value:
        return None
    asked = set(value.split())
    if asked - PROMPTS:
        raise InvalidRequestError("'prompt' may be none, login or consent.")
    if "none" in asked and len(asked) > 1:
        raise InvalidRequestError("'prompt=none' cannot be combined with another value.")
    return "login" if "login" in asked else "consent" if "consent" in asked else "none"


def _max_age(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit() or int(value) > MAX_AGE:
        raise InvalidRequestError("'max_age' must be a number of seconds.")
    return int(value)


def _dpop_jkt(asked: str | None, proof_jkt: str | None) -> str | None:
    """RFC 9449 10: the thumbprint of the key the code will be redeemed with."""
    if asked is None:
        return proof_jkt
    if not JKT.fullmatch(asked):
        raise InvalidRequestError("'dpop_jkt' must be a JWK SHA-256 thumbprint (43 base64url "
                                  "characters).")
    if proof_jkt is not None and asked != proof_jkt:
        raise proof_error(ProofRefused("dpop_key_mismatch", "the dpop_jkt parameter is not "
                                       "the thumbprint of the DPoP proof's key"), None)
    return asked


def _resource(requested: list[str], resources: Resources) -> str | None:
    if not requested:
        return None
    return choose_audience(requested, resources)


def device_params(payload: Any, *, tiers: Collection[str], resources: Resources
                  ) -> dict[str, Any]:
    """What a device authorization request (RFC 8628 3.1) may ask: scopes and a resource."""
    return {"scope": _scope(payload.data.get("scope") or "", tiers),
            "resource": _resource(payload.datalist.get("resource", []), resources)}
