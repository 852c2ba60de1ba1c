"""The file key store: one PKCS#8 PEM per key under ``keys/``, mode 0600.

Private keys are optionally encrypted with a passphrase. A key file that other
users can read is refused, as ssh refuses one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from ..base.errors import ConfigError

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"),
                      "RSA": ("e", "kty", "n")}


class KeyStore(Protocol):
    def save(self, kid: str, key: PrivateKey) -> None: ...

    def load(self, kid: str) -> PrivateKey: ...


class FileKeyStore:
    def __init__(self, directory: str | Path, passphrase: str | None = None) -> None:
        self.directory = Path(directory)
        self._passphrase = passphrase.encode() if passphrase else None

    def save(self, kid: str, key: PrivateKey) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(self._passphrase)
            if self._passphrase
            else serialization.NoEncryption()
        )
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        fd = os.open(self._path(kid), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)

    def load(self, kid: str) -> PrivateKey:
        path = self._path(kid)
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise ConfigError(f"private key {kid} is missing from {self.directory}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"{path} is readable by other users; run: chmod 600 {path}")
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), self._passphrase)
        except (ValueError, TypeError) as error:
            raise ConfigError(
                f"cannot load {path}: wrong or missing ENTITLEMENTS_KEYS_PASSPHRASE ({error})"
            ) from None
        if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
                          | rsa.RSAPrivateKey):
            raise ConfigError(f"{path} holds an unsupported key type")
        return key

    def _path(self, kid: str) -> Path:
        if not kid.replace("-", "").replace("_", "").isalnum():
            raise ValueError("a kid must be URL-safe base64")
        return self.directory / f"{kid}.pem"


def generate_private_key(alg: str) -> PrivateKey:
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"unsupported signing algorithm {alg}")


def public_jwk(key: PrivateKey, alg: str) -> dict[str, Any]:
    """The public JWK with ``kid`` (the RFC 7638 thumbprint), ``alg`` and ``use``."""
    public = key.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ed25519.Ed25519PublicKey):
        jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
    else:
        jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    jwk = {k: v for k, v in jwk.items() if k in THUMBPRINT_MEMBERS[jwk["kty"]]}
    return {**jwk, "kid": thumbprint(jwk), "alg": alg, "use": "sig"}


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256), base64url without padding."""
    members = {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode())
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
