"""A DPoP client's key, making proofs (RFC 9449 4) as a client would, and the corpus of bad
proofs every checker must refuse: the token endpoint's and each gateway's."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from entitlements.kernel import base64url, dpop


def _private(alg: str) -> Any:
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "ES384":
        return ec.generate_private_key(ec.SECP384R1())
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class ProofKey:
    """A client's DPoP key pair."""

    def __init__(self, alg: str = "ES256") -> None:
        self.alg = alg
        self.private = _private(alg)
        algorithm = jwt.get_algorithm_by_name(alg)
        self.jwk: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        self.private_jwk: dict[str, Any] = json.loads(algorithm.to_jwk(self.private))

    @property
    def jkt(self) -> str:
        return dpop.thumbprint(self.jwk)

    def proof(self, htm: str, htu: str, *, now: float, token: str | None = None,
              nonce: str | None = None, claims: dict[str, Any] | None = None,
              header: dict[str, Any] | None = None, drop: tuple[str, ...] = ()) -> str:
        """A proof for ``htm`` and ``htu`` at ``now``, of ``token`` when given; ``claims``
        and ``header`` override (or add to) what a client would send, ``drop`` removes."""
        body: dict[str, Any] = {"jti": secrets.token_urlsafe(12), "htm": htm, "htu": htu,
                                "iat": int(now)}
        if token is not None:
            body["ath"] = dpop.token_hash(token)
        if nonce is not None:
            body["nonce"] = nonce
        body.update(claims or {})
        for name in drop:
            body.pop(name, None)
        headers = {"typ": "dpop+jwt", "jwk": self.jwk, **(header or {})}
        return jwt.encode(body, self.private, algorithm=self.alg, headers=headers)


@dataclass(frozen=True)
class Target:
    """What a proof is made for: the request's method and URL, the token it comes with (at
    a resource), the time, and the key the token is bound to."""

    htm: str
    htu: str
    now: float
    key: ProofKey
    token: str | None = None

    def proof(self, **options: Any) -> str:
        return self.key.proof(self.htm, self.htu, now=self.now, token=self.token, **options)


def _unsigned(t: Target) -> str:
    body = {"jti": "j1", "htm": t.htm, "htu": t.htu, "iat": int(t.now)}
    return jwt.encode(body, None, algorithm="none", headers={"typ": "dpop+jwt", "jwk": t.key.jwk})


def _hs256(t: Target) -> str:
    secret = secrets.token_bytes(32)
    body = {"jti": "j2", "htm": t.htm, "htu": t.htu, "iat": int(t.now)}
    return jwt.encode(body, secret, algorithm="HS256", headers={
        "typ": "dpop+jwt", "jwk": {"kty": "oct", "k": base64url.encode(secret)}})


def _other_signer(t: Target) -> str:
    """Signed by another key than the ``jwk`` it shows."""
    impostor = ProofKey()
    return impostor.proof(t.htm, t.htu, now=t.now, token=t.token,
                          header={"jwk": t.key.jwk})


def _wrong_curve(t: Target) -> str:
    """An ES256 proof showing a P-384 key."""
    return t.proof(header={"jwk": ProofKey("ES384").jwk})


def _padded_small_rsa(t: Target) -> str:
    """An RS256 proof by a 1024-bit key whose modulus is padded with zero octets to 2048
    bits' length (RFC 7518 6.3.1.1 forbids the padding)."""
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    numbers = small.public_key().public_numbers()
    jwk = {"kty": "RSA", "e": base64url.encode(numbers.e.to_bytes(3, "big")),
           "n": base64url.encode(numbers.n.to_bytes(256, "big"))}
    head = base64url.encode(json.dumps({"typ": "dpop+jwt", "alg": "RS256", "jwk": jwk}).encode())
    body = base64url.encode(json.dumps({"jti": "j3", "htm": t.htm, "htu": t.htu,
                                        "iat": int(t.now)}).encode())
    signature = small.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{base64url.encode(signature)}"


def _oversize(t: Target) -> str:
    return t.proof(claims={"padding": "x" * (dpop.MAX_PROOF_BYTES + 1)})


#: (id, proofs to send, reason): refused alike at the token endpoint and at a gateway.
BAD_PROOFS: list[tuple[str, Callable[[Target], list[str]], str]] = [
    ("not-a-jws", lambda t: ["not.a.jws"], "dpop_proof_malformed"),
    ("two-segments", lambda t: ["eyJhbGciOiJFUzI1NiJ9.e30"], "dpop_proof_malformed"),
    ("oversize", lambda t: [_oversize(t)], "dpop_proof_malformed"),
    ("alg-none", lambda t: [_unsigned(t)], "dpop_algorithm_not_allowed"),
    ("alg-hs256", lambda t: [_hs256(t)], "dpop_algorithm_not_allowed"),
    ("typ-jwt", lambda t: [t.proof(header={"typ": "JWT"})], "dpop_wrong_typ"),
    ("private-key-in-jwk", lambda t: [t.proof(header={"jwk": t.key.private_jwk})],
     "dpop_private_key"),
    ("no-jwk", lambda t: [t.proof(header={"jwk": None})], "dpop_bad_key"),
    ("jwk-kty-not-a-string", lambda t: [t.proof(header={"jwk": {"kty": [], "x": "a"}})],
     "dpop_bad_key"),
    ("jwk-kty-an-object", lambda t: [t.proof(header={"jwk": {"kty": {}, "x": "a"}})],
     "dpop_bad_key"),
    ("rsa-1024-padded-to-2048", lambda t: [_padded_small_rsa(t)], "dpop_bad_key"),
    ("jwk-not-for-alg", lambda t: [_wrong_curve(t)], "dpop_bad_key"),
    ("bad-signature", lambda t: [_other_signer(t)], "dpop_bad_signature"),
    ("no-jti", lambda t: [t.proof(drop=("jti",))], "dpop_missing_claims"),
    ("iat-not-a-number", lambda t: [t.proof(claims={"iat": "now"})], "dpop_missing_claims"),
    ("iat-past-any-float", lambda t: [t.proof(claims={"iat": 10**400})],
     "dpop_proof_malformed"),
    ("htu-not-a-url", lambda t: [t.proof(claims={"htu": "garbage"})], "dpop_wrong_htu"),
    ("htu-a-list", lambda t: [t.proof(claims={"htu": [t.htu]})], "dpop_missing_claims"),
    ("wrong-htm", lambda t: [t.proof(claims={"htm": "PUT"})], "dpop_wrong_htm"),
    ("lowercase-htm", lambda t: [t.proof(claims={"htm": t.htm.lower()})], "dpop_wrong_htm"),
    ("wrong-htu", lambda t: [t.proof(claims={"htu": t.htu + "/elsewhere"})],
     "dpop_wrong_htu"),
    ("htu-other-host", lambda t: [t.proof(claims={"htu": "https://evil.example/"})],
     "dpop_wrong_htu"),
    ("stale-iat", lambda t: [t.proof(claims={"iat": int(t.now) - 3600})], "dpop_stale"),
    ("future-iat", lambda t: [t.proof(claims={"iat": int(t.now) + 3600})], "dpop_future"),
    ("two-dpop-headers", lambda t: [t.proof(), t.proof()], "dpop_multiple_proofs"),
]
