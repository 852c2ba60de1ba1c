"""DPoP (RFC 9449) as the server and gateways both check it: the proof's shape, key, claims
and freshness, the key thumbprint (RFC 7638) a bound token names in ``cnf.jkt``, and the
access-token hash ``ath``. Standard library only: the signature itself is checked by the
caller's ``verify`` (the server's and the SDK's own), and replay and nonces by theirs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from . import base64url
from .claims import CONFIRMATION
from .jsonload import loads

SCHEME = "DPoP"
HEADER = "DPoP"
NONCE_HEADER = "DPoP-Nonce"
PROOF_TYP = "dpop+jwt"
#: RFC 9449 6.1: the member of the token's confirmation claim (``cnf``) naming the key.
THUMBPRINT = "jkt"
#: Asymmetric algorithms only: never ``none``, never HMAC.
ALGORITHMS = ("ES256", "ES384", "EdDSA", "RS256", "PS256")
MAX_PROOF_BYTES = 8 * 1024
MAX_JTI_LENGTH = 256
#: RFC 7638 3.2: the members a thumbprint hashes, per key type.
_THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"),
                       "OKP": ("crv", "kty", "x")}
#: The key each algorithm signs with: key type and curve (None: RSA, of at least 2048 bits).
_KEY_FOR = {"ES256": ("EC", "P-256"), "ES384": ("EC", "P-384"), "EdDSA": ("OKP", "Ed25519"),
            "RS256": ("RSA", None), "PS256": ("RSA", None)}
MIN_RSA_MODULUS_BYTES = 256
#: Members only a private (or symmetric) JWK has (RFC 7518 6.2.2, 6.3.2, 6.4; RFC 8037).
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

#: Why a proof, or a token that needs one, is refused; stable codes, the same at the token
#: endpoint and at every gateway.
REASONS = {
    "dpop_proof_required": "a DPoP proof is required (the client registered "
                           "dpop_bound_access_tokens, or the token is DPoP-bound)",
    "dpop_multiple_proofs": "the request carries more than one DPoP header",
    "dpop_proof_malformed": "the DPoP proof is not a compact JWS with JSON header and "
                            "claims, or is too large",
    "dpop_wrong_typ": "the DPoP proof's typ must be dpop+jwt",
    "dpop_algorithm_not_allowed": "the DPoP proof's alg must be an asymmetric algorithm "
                                  "this server accepts",
    "dpop_bad_key": "the DPoP proof's jwk header is missing or not a public key",
    "dpop_private_key": "the DPoP proof's jwk header holds private key material",
    "dpop_bad_signature": "the DPoP proof's signature does not verify with its jwk",
    "dpop_missing_claims": "the DPoP proof needs jti, htm, htu and iat",
    "dpop_wrong_htm": "the DPoP proof's htm is not this request's method",
    "dpop_wrong_htu": "the DPoP proof's htu is not this request's URL",
    "dpop_stale": "the DPoP proof's iat is too old",
    "dpop_future": "the DPoP proof's iat is in the future",
    "dpop_replayed": "the DPoP proof's jti was used before",
    "dpop_wrong_ath": "the DPoP proof's ath is not the access token's hash",
    "dpop_key_mismatch": "the DPoP proof is signed by another key than the token is bound to",
    "dpop_nonce_required": "the DPoP proof must carry the server's nonce (DPoP-Nonce)",
    "dpop_nonce_stale": "the DPoP proof's nonce is not a current one (DPoP-Nonce)",
    "dpop_bound_token_as_bearer": "a DPoP-bound token must be presented with the DPoP "
                                  "scheme and a proof",
    "dpop_scheme_unbound_token": "the DPoP scheme was used with a token that is not "
                                 "DPoP-bound",
    "dpop_replay_unavailable": "the store of used proofs cannot be reached; retry shortly",
}
#: Reasons answered ``use_dpop_nonce`` (with a fresh DPoP-Nonce), not ``invalid_dpop_proof``.
NONCE_REASONS = frozenset({"dpop_nonce_required", "dpop_nonce_stale"})


class ProofRefused(Exception):
    """A proof that must not be honoured; ``reason`` is one of ``REASONS``."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(f"{reason}: {message or REASONS[reason]}")
        self.reason = reason
        self.message = message or REASONS[reason]


class Proof(NamedTuple):
    """What a checked proof establishes: the key's thumbprint ``jkt``, and the ``jti`` and
    ``iat`` a replay cache keeps; ``nonce`` for the caller's nonce rule. (A named tuple:
    made on a gateway's per-request path.)"""

    jkt: str
    jti: str
    iat: float
    nonce: str | None

    @property
    def spent(self) -> str:
        """The jti, scoped to the key: one client cannot spend another's jti."""
        return f"{self.jkt}.{self.jti}"

    @property
    def replay_key(self) -> str:
        """``spent``, hashed to a fixed length for a shared store."""
        return hashlib.sha256(self.spent.encode()).hexdigest()

    def keep(self, now: float, max_age: float, leeway: float) -> float:
        """Seconds a replay cache must remember the proof: until its ``iat`` is too old to
        be accepted anyway."""
        return self.iat - now + max_age + 2 * leeway


#: ``verify(jwk, jkt, alg, signing_input, signature)``: True when the signature verifies
#: with the key ``jwk`` (of thumbprint ``jkt``, to cache it by); ProofRefused("dpop_bad_key")
#: when the JWK is no usable key for ``alg``.
Verify = Callable[[Mapping[str, Any], str, str, bytes, bytes], bool]


def check(proof: str, *, method: str, uri: str, now: float, max_age: float, leeway: float,
          verify: Verify, access_token: str | None = None, bound_to: str | None = None,
          algorithms: tuple[str, ...] = ALGORITHMS) -> Proof:
    """The proof of a request made with ``method`` to ``uri`` (with ``access_token``, at a
    resource, whose token is bound to the key ``bound_to``), or ProofRefused. Replay and
    nonce are the caller's to check next. Whatever a proof holds, the answer is a Proof or
    a ProofRefused: any input that slips past a check fails closed, as malformed."""
    try:
        return _check(proof, method, uri, now, max_age, leeway, verify, access_token,
                      bound_to, algorithms)
    except ProofRefused:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError, RecursionError):
        raise ProofRefused("dpop_proof_malformed") from None


def _check(proof: str, method: str, uri: str, now: float, max_age: float, leeway: float,
           verify: Verify, access_token: str | None, bound_to: str | None,
           algorithms: tuple[str, ...]) -> Proof:
    head, claims, signing_input, signature = _split(proof)
    alg, jwk, jkt = _header(head)
    if alg not in algorithms:
        raise ProofRefused("dpop_algorithm_not_allowed", f"alg {alg!r} is not one of "
                                                         f"{', '.join(algorithms)}")
    if bound_to is not None and jkt != bound_to:
        raise ProofRefused("dpop_key_mismatch")
    if not verify(jwk, jkt, alg, signing_input, signature):
        raise ProofRefused("dpop_bad_signature")
    jti, iat = _claims(claims)
    if claims["htm"] != method:
        raise ProofRefused("dpop_wrong_htm")
    expected = normalize_uri(uri)
    if expected is None or normalize_uri(claims["htu"]) != expected:
        raise ProofRefused("dpop_wrong_htu")
    if iat < now - max_age - leeway:
        raise ProofRefused("dpop_stale")
    if iat > now + leeway:
        raise ProofRefused("dpop_future")
    if access_token is not None and claims.get("ath") != token_hash(access_token):
        raise ProofRefused("dpop_wrong_ath")
    nonce = claims.get("nonce")
    return Proof(jkt, jti, iat, nonce if isinstance(nonce, str) else None)


def single(values: Iterable[str]) -> str | None:
    """The request's one DPoP proof, None without one (RFC 9449 4.3: two refuse). Servers
    that join repeated headers with commas (WSGI, ``http.server``) are read right: a JWS
    holds no comma, so two proofs stay two."""
    proofs = [proof.strip() for value in values for proof in value.split(",")]
    if len(proofs) > 1:
        raise ProofRefused("dpop_multiple_proofs")
    return proofs[0] if proofs else None


def public_jwk(jwk: Any) -> dict[str, Any]:
    """The ``jwk`` header if it is a public key of a known type, else ProofRefused."""
    kty = jwk.get("kty") if isinstance(jwk, dict) else None
    if not isinstance(kty, str) or kty not in _THUMBPRINT_MEMBERS:
        raise ProofRefused("dpop_bad_key")
    if _PRIVATE_MEMBERS & jwk.keys():
        raise ProofRefused("dpop_private_key")
    if not all(isinstance(jwk.get(m), str) for m in _THUMBPRINT_MEMBERS[jwk["kty"]]):
        raise ProofRefused("dpop_bad_key")
    return jwk


def _fits(jwk: Mapping[str, Any], alg: str) -> bool:
    kty, crv = _KEY_FOR[alg]
    if jwk["kty"] != kty:
        return False
    if kty != "RSA":
        return jwk.get("crv") == crv
    try:  # RFC 7518 6.3.1.1: no leading zero octets; then the modulus's real size counts
        modulus = base64url.decode(jwk["n"])
    except ValueError:
        return False
    return (modulus[:1] != b"\0"
            and int.from_bytes(modulus, "big").bit_length() >= 8 * MIN_RSA_MODULUS_BYTES)


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638: SHA-256 over the required members, sorted, without whitespace."""
    members = {m: jwk[m] for m in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return base64url.encode(hashlib.sha256(canonical.encode()).digest())


def token_hash(access_token: str) -> str:
    """RFC 9449 4.2: ``ath``, the base64url SHA-256 of the access token's ASCII."""
    return base64url.encode(hashlib.sha256(access_token.encode("ascii", "replace")).digest())


def bound_thumbprint(claims: Mapping[str, Any]) -> str | None:
    """The ``cnf.jkt`` a token is bound to, or None for a bearer token."""
    cnf = claims.get(CONFIRMATION)
    jkt = cnf.get(THUMBPRINT) if isinstance(cnf, dict) else None
    return jkt if isinstance(jkt, str) else None


@lru_cache(maxsize=4096)
def normalize_uri(uri: Any) -> str | None:
    """RFC 9449 4.3 with RFC 3986 6.2.2-6.2.3: scheme and host in lower case, the default
    port dropped, an empty path as ``/``; query and fragment ignored. None for anything
    that is no absolute http(s) URL: it matches nothing, not even itself."""
    if not isinstance(uri, str):
        return None
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in ("https", "http") or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    default = {"https": 443, "http": 80}.get(scheme)
    netloc = host if port is None or port == default else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path or '/'}"


def challenge(algorithms: tuple[str, ...], error: str | None = None,
              description: str | None = None) -> str:
    """A ``WWW-Authenticate: DPoP`` challenge (RFC 9449 7.1)."""
    params = [f'algs="{" ".join(algorithms)}"']
    if error:
        params.insert(0, f'error="{error}"')
    if description:
        params.insert(1, f'error_description="{description}"')
    return f"{SCHEME} " + ", ".join(params)


def _split(proof: Any) -> tuple[str, dict[str, Any], bytes, bytes]:
    if not isinstance(proof, str) or len(proof) > MAX_PROOF_BYTES:
        raise ProofRefused("dpop_proof_malformed", "the DPoP proof is too large")
    try:
        head, body, signature = proof.split(".")
        claims = loads(base64url.decode(body))
        raw_signature = base64url.decode(signature)
        signing_input = f"{head}.{body}".encode("ascii")
    except (ValueError, UnicodeError, RecursionError):
        raise ProofRefused("dpop_proof_malformed") from None
    if not isinstance(claims, dict):
        raise ProofRefused("dpop_proof_malformed")
    return head, claims, signing_input, raw_signature


@lru_cache(maxsize=1024)
def _header(head: str) -> tuple[str, dict[str, Any], str]:
    """(alg, jwk, thumbprint) of a proof header, or ProofRefused. A client signs every proof
    with one header, so it is read once (bounded; refusals are not kept)."""
    try:
        header = loads(base64url.decode(head))
    except (ValueError, UnicodeError, RecursionError):
        raise ProofRefused("dpop_proof_malformed") from None
    if not isinstance(header, dict):
        raise ProofRefused("dpop_proof_malformed")
    if not _is_proof_typ(header.get("typ")):
        raise ProofRefused("dpop_wrong_typ")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in _KEY_FOR:
        raise ProofRefused("dpop_algorithm_not_allowed", f"alg {str(alg)[:20]!r} is not one "
                                                         f"of {', '.join(ALGORITHMS)}")
    jwk = public_jwk(header.get("jwk"))
    if not _fits(jwk, alg):
        raise ProofRefused("dpop_bad_key", f"the jwk is not a key for {alg}")
    return alg, jwk, thumbprint(jwk)


def _is_proof_typ(value: Any) -> bool:
    return isinstance(value, str) and value.lower() in (PROOF_TYP, "application/" + PROOF_TYP)


def _claims(claims: dict[str, Any]) -> tuple[str, float]:
    jti, iat = claims.get("jti"), claims.get("iat")
    if not (isinstance(jti, str) and 0 < len(jti) <= MAX_JTI_LENGTH
            and isinstance(claims.get("htm"), str) and isinstance(claims.get("htu"), str)
            and isinstance(iat, int | float) and not isinstance(iat, bool)):
        raise ProofRefused("dpop_missing_claims")
    try:
        moment = float(iat)
    except OverflowError:  # an integer past any float: no time at all
        moment = math.inf
    if not math.isfinite(moment):
        raise ProofRefused("dpop_missing_claims", "the DPoP proof's iat is not a time")
    return jti, moment


class Nonces:
    """Nonces (RFC 9449 8 and 9) with no state to share: a nonce names its time slot and
    carries an HMAC of it, so every process holding the secret accepts every other's. The
    current and the previous slot are accepted: a nonce lives one to two ``lifetime``s."""

    def __init__(self, secret: str | bytes, lifetime: float) -> None:
        raw = secret.encode() if isinstance(secret, str) else secret
        self._key = hashlib.sha256(b"entitlements dpop nonce\0" + raw).digest()
        self.lifetime = lifetime

    def current(self, now: float) -> str:
        return self._for(int(now // self.lifetime))

    def valid(self, nonce: str | None, now: float) -> bool:
        if not isinstance(nonce, str) or not nonce or len(nonce) > 64 or not nonce.isascii():
            return False
        slot = int(now // self.lifetime)
        return any(hmac.compare_digest(nonce, self._for(s)) for s in (slot, slot - 1))

    def _for(self, slot: int) -> str:
        mac = hmac.new(self._key, str(slot).encode(), hashlib.sha256).digest()[:18]
        return f"{slot:x}.{base64url.encode(mac)}"
