"""Documents the service signs for others to check offline against its JWKS: reports'
manifests, audit checkpoints, notices. One JWS shape: the token key, its kid, a ``typ`` that
says what the document is, and ``iss`` and ``iat``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any

import jwt

from ..base.clock import epoch
from ..base.errors import ConfigError
from ..base.jose import ASYMMETRIC_ALGORITHMS
from .compact import sign_compact
from .keyring import KeyRing
from .keystore import KeyStore, public_jwk

NOTICE_TYP = "entitlements-notice+jwt"
MANIFEST_TYP = "entitlements-report-manifest+jwt"
CHECKPOINT_TYP = "entitlements-checkpoint+jwt"
ABUSE_REPORT_TYP = "entitlements-abuse-report+jwt"
#: How a document's checker decodes it: ``iss`` and ``iat`` must be there, and ``iat`` is a
#: date, not a freshness check (a signer's clock ahead of the checker's is no forgery).
DOCUMENT_OPTIONS: dict[str, Any] = {"require": ["iss", "iat"], "verify_aud": False,
                                    "verify_iat": False}


def sign_document(ring: KeyRing, now: datetime, *, issuer: str, typ: str,
                  claims: dict[str, Any]) -> str:
    info, private_key = ring.signer(now)
    return sign_compact({"iss": issuer, "iat": epoch(now), **claims}, private_key,
                        alg=info.alg, kid=info.kid, typ=typ)


def store_keys(store: KeyStore) -> Callable[[str], Any]:
    """The public key a ``kid`` names, from the key store (not the database, which a
    document's checker may not trust): LookupError for a kid the store lacks, or whose key
    is not the one the kid is the thumbprint of. Each key is read once per lookup made."""

    @functools.lru_cache(maxsize=32)
    def key_for(kid: str) -> Any:
        try:
            private = store.load(kid)
        except (ConfigError, ValueError, OSError):  # OSError: a kid no file name can be
            raise LookupError(f"the key store has no key {kid!r}") from None
        if public_jwk(private, "")["kid"] != kid:  # the kid is the key's RFC 7638 thumbprint
            raise LookupError(f"the key store's key {kid!r} is not the key of that kid")
        return private.public_key()

    return key_for


class DocumentRefused(ValueError):
    """A signed document that cannot be believed: ``reason`` is ``malformed``, ``typ``,
    ``algorithm``, ``key`` or ``signature``; ``cause`` what was found or raised."""

    def __init__(self, reason: str, cause: Any) -> None:
        super().__init__(f"{reason}: {cause}")
        self.reason, self.cause = reason, cause


def read_document(jws: str, typ: str, key_for: Callable[[str], Any]) -> dict[str, Any]:
    """A document's claims once it is of ``typ`` and its signature verifies, by an
    asymmetric algorithm only, with the key its ``kid`` names (``key_for``: LookupError for
    none). Its ``iat`` dates it; it is no freshness check (``DOCUMENT_OPTIONS``)."""
    try:
        header = jwt.get_unverified_header(jws)
    except jwt.PyJWTError as error:
        raise DocumentRefused("malformed", error) from None
    if header.get("typ") != typ:
        raise DocumentRefused("typ", header.get("typ"))
    alg = header.get("alg")
    if alg not in ASYMMETRIC_ALGORITHMS:
        raise DocumentRefused("algorithm", alg)
    try:
        key = key_for(str(header.get("kid")))
    except LookupError as error:
        raise DocumentRefused("key", error) from None
    try:
        return jwt.decode(jws, key, algorithms=[alg], options=DOCUMENT_OPTIONS)
    except (jwt.PyJWTError, TypeError, ValueError) as error:
        raise DocumentRefused("signature", error) from None


def jwks_keys(jwks: dict[str, Any]) -> Callable[[str], Any]:
    """The public key a ``kid`` names in a JWKS (KeyError naming the kid, when absent)."""
    keys = jwt.PyJWKSet.from_dict(jwks)

    def key_for(kid: str) -> Any:
        try:
            return keys[kid].key
        except KeyError:
            raise KeyError(kid) from None

    return key_for
