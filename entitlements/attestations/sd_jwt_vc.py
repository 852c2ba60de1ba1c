"""Verify a citizenship attestation presented as an SD-JWT VC with key binding.

The holder discloses only what we ask for (the nationalities); the issuer-signed part
proves the rest. The ``sd-jwt`` reference library (OpenWallet Foundation) resolves the
disclosures against the signed digests. It leaves out, and we add: the issuer registry,
key and algorithm allow-lists, the VC ``typ``, times and the issuer's maximum age, the
key-binding JWT (signature with the ``cnf`` key and any allowed algorithm, ``typ``,
nonce, audience, freshness, ``sd_hash``), what the issuer may attest, and the status list.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

import jwt
from jwcrypto.common import JWException
from jwcrypto.jwk import JWK
from sd_jwt.verifier import SDJWTVerifier

from ..base import jose
from ..base.secrets import same
from .verify import (
    ALGORITHMS,
    LEEWAY,
    MAX_BYTES,
    AttestationFacts,
    AttestationRefused,
    IssuerLookup,
    StatusCheck,
    attested,
    check_status,
    checked_times,
    decode_signed,
    peek,
    sha256_hex,
    signing_key,
    time_claim,
    trusted_issuer,
)

FORMAT = "sd-jwt-vc"
#: ``dc+sd-jwt`` is the current media type; ``vc+sd-jwt`` the one earlier drafts used.
VC_TYPES = ("dc+sd-jwt", "vc+sd-jwt")
KB_TYP = "kb+jwt"
KB_MAX_AGE = timedelta(minutes=5)
ISSUER_REQUIRED = ["iss", "iat", "vct", "cnf"]
KB_REQUIRED = ["aud", "iat", "nonce", "sd_hash"]
#: SD-JWT VC section 3.2.2.2: claims an issuer must never make selectively disclosable.
#: ``verified_at`` too: withholding it would dodge the issuer's maximum age.
ALWAYS_PLAIN = frozenset({"iss", "nbf", "exp", "cnf", "vct", "status", "verified_at"})
#: What the library (and our JSON parsing of disclosures, which are not signed, so anyone
#: may nest them past the parser's depth) raises on a malformed disclosure.
_LIBRARY_ERRORS = (ValueError, KeyError, TypeError, AttributeError, UnicodeEncodeError,
                   RecursionError, JWException)


def verify_sd_jwt_vc(
    presentation: str, *, issuers: IssuerLookup, audience: str, nonce: str, now: datetime,
    status: StatusCheck | None = None, leeway: timedelta = LEEWAY,
) -> AttestationFacts:
    issuer_jwt, key_binding = _split(presentation)
    header, unverified = peek(issuer_jwt, "the SD-JWT")
    if header.get("typ") not in VC_TYPES:
        raise AttestationRefused("wrong_type", f"the SD-JWT's typ must be one of {VC_TYPES}")
    issuer = trusted_issuer(issuers, unverified.get("iss"), FORMAT)
    key, alg = signing_key(issuer, header)
    signed = decode_signed(issuer_jwt, key, alg, issuer=issuer.issuer, audience=None,
                           required=ISSUER_REQUIRED)
    claims = _disclosed(presentation, key, signed)
    _check_key_binding(presentation, key_binding, signed["cnf"], audience, nonce, now, leeway)
    verified_at, expires_at = checked_times(claims, issuer, now, leeway)
    nationalities, level = attested(claims, issuer)
    check_status(claims, issuer, status, now)
    return AttestationFacts(
        issuer=issuer.issuer, subject=str(claims.get("sub", "")),
        credential_id=str(signed.get("jti") or sha256_hex(
            json.dumps(signed, sort_keys=True))),  # content, not text: re-encoding a
                                                   # signature must not make a new credential
        nationalities=nationalities, assurance_level=level, verified_at=verified_at,
        expires_at=expires_at, evidence_sha256=sha256_hex(presentation),
    )


def presented_nonce(presentation: str) -> Any:
    """The nonce the key-binding JWT claims to carry (unverified: used to find our record)."""
    return peek(_split(presentation)[1], "the key-binding JWT")[1].get("nonce")


def _split(presentation: str) -> tuple[str, str]:
    """(issuer-signed JWT, key-binding JWT) of ``<JWT>~<disclosure>~...~<KB-JWT>``."""
    if not presentation or len(presentation) > MAX_BYTES:
        raise AttestationRefused("malformed", "the attestation is missing or too large")
    parts = presentation.split("~")
    if len(parts) < 2 or not parts[0]:
        raise AttestationRefused("malformed", "the attestation is not an SD-JWT")
    if not parts[-1]:
        raise AttestationRefused("key_binding_missing", "the SD-JWT has no key-binding JWT")
    return parts[0], parts[-1]


def _disclosed(presentation: str, key: jwt.PyJWK, signed: dict[str, Any]) -> dict[str, Any]:
    """The claims after resolving the disclosures against the signed digests. The library
    skips a disclosure no digest refers to; the SD-JWT spec says to refuse it, so we do."""
    issuer_key = JWK.from_pyca(key.key)
    try:
        verifier = SDJWTVerifier(presentation, lambda _iss, _header: issuer_key)
        claims = verifier.get_verified_payload()
        disclosures = presentation.split("~")[1:-1]
        values = [json.loads(_b64decode(d)) for d in disclosures]
        referenced = _digests([signed, *values])
    except _LIBRARY_ERRORS:
        raise _bad_disclosure("a disclosure is malformed or duplicated") from None
    if any(_b64_sha256(d) not in referenced for d in disclosures):
        raise _bad_disclosure("a disclosure is not covered by the issuer's signature")
    hidden = sorted(ALWAYS_PLAIN.intersection(claims).difference(signed))
    if hidden:
        raise _bad_disclosure(f"{', '.join(hidden)} must not be selectively disclosable")
    return claims


def _digests(values: list[Any]) -> set[str]:
    """Every digest ``_sd`` arrays and ``{"...": digest}`` array entries refer to."""
    found: set[str] = set()
    stack = list(values)
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            digests = value.get("_sd", []) if isinstance(value.get("_sd"), list) else []
            found.update(d for d in digests if isinstance(d, str))
            if isinstance(value.get("..."), str):
                found.add(value["..."])
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def _bad_disclosure(message: str) -> AttestationRefused:
    return AttestationRefused("bad_disclosure", message)


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64_sha256(text: str) -> str:
    digest = hashlib.sha256(text.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _check_key_binding(presentation: str, key_binding: str, cnf: Any, audience: str,
                       nonce: str, now: datetime, leeway: timedelta) -> None:
    header, _ = peek(key_binding, "the key-binding JWT")
    if header.get("typ") != KB_TYP:
        raise AttestationRefused("key_binding_invalid", f"the key-binding JWT's typ must be "
                                                        f"{KB_TYP}")
    holder_key, alg = _holder_key(cnf, header)
    try:
        claims = jose.verify_signature(key_binding, holder_key, alg, audience=audience,
                                       required=KB_REQUIRED)
    except jose.JwtRefused as refused:
        if refused.reason == "wrong_audience":
            raise AttestationRefused("wrong_audience", "the presentation is not for us") from None
        raise AttestationRefused("key_binding_invalid", "the key-binding JWT does not verify "
                                                        "with the credential's key") from None
    if not same(str(claims["nonce"]), nonce):
        raise AttestationRefused("nonce_mismatch", "the presentation is not bound to our nonce")
    signed_at = time_claim(claims, "iat")
    if signed_at is None or not now - KB_MAX_AGE - leeway <= signed_at <= now + leeway:
        raise AttestationRefused("key_binding_stale", "the key-binding JWT is not fresh")
    if not same(str(claims["sd_hash"]), _sd_hash(presentation, key_binding)):
        raise AttestationRefused("sd_hash_mismatch", "the key-binding JWT does not cover "
                                                     "this presentation")


def _holder_key(cnf: Any, header: dict[str, Any]) -> tuple[jwt.PyJWK, str]:
    try:
        alg = jose.allowed_algorithm(header, ALGORITHMS)
    except jose.JwtRefused:
        raise AttestationRefused("algorithm_not_allowed", "the key-binding algorithm is not "
                                                          "allowed") from None
    jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    if not isinstance(jwk, dict) or "d" in jwk:
        raise AttestationRefused("malformed", "the credential's cnf holds no public JWK")
    try:
        return jwt.PyJWK(jwk, algorithm=alg), alg
    except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
        raise AttestationRefused("malformed", "the credential's cnf key is unusable") from None


def _sd_hash(presentation: str, key_binding: str) -> str:
    return _b64_sha256(presentation[: len(presentation) - len(key_binding)])


