"""A holder's wallet, scripted: a verifier signs SD-JWT VCs to the holder's key, and the
holder presents them with a key-binding JWT for an audience and nonce, at the test clock's
time."""

from __future__ import annotations

import base64
import hashlib

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer

VERIFIER = "https://verifier.example"
UNDISCLOSED = "Alice Undisclosed-Surname"
#: The credential type the service asks wallets for by default (ENTITLEMENTS_CITIZENSHIP_VCT).
VCT = "urn:entitlements:vct:citizenship"


class Wallet:
    def __init__(self, issuer_key: ec.EllipticCurvePrivateKey, audience: str, clock) -> None:
        self.issuer_key, self.audience, self.clock = issuer_key, audience, clock
        self.holder_key = ec.generate_private_key(ec.SECP256R1())

    def issue(self, *, key=None, disclosable: dict | None = None, **claims) -> str:
        now = int(self.clock.now().timestamp())
        plain = {"iss": VERIFIER, "sub": "v-subject-1", "jti": "cred-1",
                 "vct": VCT, "iat": now - 10, "exp": now + 3600,
                 "verified_at": now - 86400, "assurance_level": "high", **claims}
        if disclosable is None:
            disclosable = {"nationalities": ["US"], "name": UNDISCLOSED}
        user_claims = {**plain, **{SDObj(k): v for k, v in disclosable.items()}}
        return SDJWTIssuer(
            user_claims, JWK.from_pyca(key or self.issuer_key),
            holder_key=JWK.from_pyca(self.holder_key), sign_alg="ES256",
            extra_header_parameters={"typ": "dc+sd-jwt", "kid": "verifier-1"},
        ).sd_jwt_issuance

    def present(self, issued: str, nonce: str, *, disclose=("nationalities",), key=None,
                audience: str | None = None, **overrides) -> str:
        holder = SDJWTHolder(issued)
        holder.create_presentation({name: True for name in disclose})
        head = holder.sd_jwt_presentation
        digest = hashlib.sha256(head.encode()).digest()
        claims = {"nonce": nonce, "aud": audience or self.audience,
                  "iat": int(self.clock.now().timestamp()),
                  "sd_hash": base64.urlsafe_b64encode(digest).rstrip(b"=").decode(), **overrides}
        return head + jwt.encode(claims, key or self.holder_key, algorithm="ES256",
                                 headers={"typ": "kb+jwt"})
