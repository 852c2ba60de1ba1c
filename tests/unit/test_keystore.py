"""The file key store, key generation, public JWKs and RFC 7638 kids, key states by time."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519
from joserfc.jwk import import_key

from entitlements.base.errors import ConfigError
from entitlements.signing.keyring import KeyInfo, KeyRing, classify
from entitlements.signing.keystore import (
    FileKeyStore,
    generate_private_key,
    public_jwk,
    thumbprint,
)

PASSPHRASE = "correct horse battery"
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
#: RFC 7638 section 3.1.
RFC7638_KEY = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
         "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
         "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI"
         "4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
#: RFC 8037 appendix A.2 and A.3.
RFC8037_KEY = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def saved(store: FileKeyStore, alg: str = "ES256") -> tuple[str, object]:
    key = generate_private_key(alg)
    kid = public_jwk(key, alg)["kid"]
    store.save(kid, key)
    return kid, key


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def public_numbers(key) -> object:
    return key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


# -- FileKeyStore ------------------------------------------------------------------------------


def test_key_file_is_0600_in_a_0700_directory(tmp_path):
    store = FileKeyStore(tmp_path / "keys")
    kid, key = saved(store)
    assert mode(tmp_path / "keys") == 0o700
    assert mode(tmp_path / "keys" / f"{kid}.pem") == 0o600
    assert public_numbers(store.load(kid)) == public_numbers(key)


def test_an_existing_key_file_is_never_overwritten(tmp_path):
    store = FileKeyStore(tmp_path)
    kid, key = saved(store)
    with pytest.raises(FileExistsError):
        store.save(kid, generate_private_key("ES256"))
    assert public_numbers(store.load(kid)) == public_numbers(key)


@pytest.mark.parametrize("file_mode", [
    pytest.param(0o640, id="group-readable"),
    pytest.param(0o604, id="world-readable"),
    pytest.param(0o620, id="group-writable"),
    pytest.param(0o644, id="group-and-world-readable"),
])
def test_a_key_others_can_read_is_refused(tmp_path, file_mode):
    store = FileKeyStore(tmp_path)
    kid, _ = saved(store)
    path = tmp_path / f"{kid}.pem"
    path.chmod(file_mode)
    with pytest.raises(ConfigError) as raised:
        store.load(kid)
    assert f"chmod 600 {path}" in str(raised.value)


def test_a_missing_key_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="missing"):
        FileKeyStore(tmp_path).load("no-such-kid")


@pytest.mark.parametrize("kid", [
    pytest.param("../escape", id="parent-directory"),
    pytest.param("a/b", id="slash"),
    pytest.param("", id="empty"),
])
def test_a_kid_must_be_url_safe(tmp_path, kid):
    store = FileKeyStore(tmp_path / "keys")
    with pytest.raises(ValueError, match="URL-safe"):
        store.save(kid, generate_private_key("ES256"))
    assert not (tmp_path / "escape.pem").exists()


def test_a_file_holding_an_unsupported_key_type_is_refused(tmp_path):
    pem = x25519.X25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    path = tmp_path / "x25519.pem"
    path.write_bytes(pem)
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="unsupported key type"):
        FileKeyStore(tmp_path).load("x25519")


def test_a_passphrase_encrypts_the_key(tmp_path):
    store = FileKeyStore(tmp_path, PASSPHRASE)
    kid, key = saved(store)
    pem = (tmp_path / f"{kid}.pem").read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert public_numbers(store.load(kid)) == public_numbers(key)


@pytest.mark.parametrize(("saved_with", "loaded_with"), [
    pytest.param(PASSPHRASE, "wrong passphrase", id="wrong-passphrase"),
    pytest.param(PASSPHRASE, None, id="missing-passphrase"),
    pytest.param(None, PASSPHRASE, id="passphrase-for-plain-key"),
])
def test_passphrase_mismatch_is_a_config_error(tmp_path, saved_with, loaded_with):
    kid, _ = saved(FileKeyStore(tmp_path, saved_with))
    with pytest.raises(ConfigError) as raised:
        FileKeyStore(tmp_path, loaded_with).load(kid)
    assert "ENTITLEMENTS_KEYS_PASSPHRASE" in str(raised.value)


# -- key generation and JWKs -------------------------------------------------------------------


@pytest.mark.parametrize(("alg", "key_type", "kty"), [
    pytest.param("ES256", ec.EllipticCurvePrivateKey, "EC", id="ES256"),
    pytest.param("EdDSA", ed25519.Ed25519PrivateKey, "OKP", id="EdDSA"),
    pytest.param("RS256", rsa.RSAPrivateKey, "RSA", id="RS256"),
])
def test_public_jwk_kid_is_the_rfc7638_thumbprint(alg, key_type, kty):
    key = generate_private_key(alg)
    assert isinstance(key, key_type)
    jwk = public_jwk(key, alg)
    assert jwk["kty"] == kty and jwk["alg"] == alg and jwk["use"] == "sig"
    assert not PRIVATE_MEMBERS & set(jwk)
    assert jwk["kid"] == import_key(jwk).thumbprint()
    token = jwt.encode({"sub": "x"}, key, algorithm=alg)
    assert jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=[alg]) == {"sub": "x"}


def test_curve_and_size_of_generated_keys():
    assert isinstance(generate_private_key("ES256").curve, ec.SECP256R1)
    assert generate_private_key("RS256").key_size >= 2048


def test_an_unknown_algorithm_is_refused():
    with pytest.raises(ValueError, match="HS256"):
        generate_private_key("HS256")


@pytest.mark.parametrize(("jwk", "expected"), [
    pytest.param(RFC7638_KEY, RFC7638_THUMBPRINT, id="rfc7638-rsa"),
    pytest.param(RFC8037_KEY, RFC8037_THUMBPRINT, id="rfc8037-ed25519"),
])
def test_thumbprint_matches_the_rfc_examples(jwk, expected):
    assert thumbprint(jwk) == expected
    assert import_key(jwk).thumbprint() == expected


# -- key states --------------------------------------------------------------------------------

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
MAX_TTL = timedelta(seconds=330)


def key(name: str, activates_in: float, revoked: bool = False) -> KeyInfo:
    created = NOW - timedelta(days=1)
    return KeyInfo(name, "ES256", {"kid": name}, created, NOW + timedelta(seconds=activates_in),
                   revoked_at=NOW - timedelta(seconds=1) if revoked else None)


@pytest.mark.parametrize(("keys", "expected"), [
    pytest.param([key("a", -60)], {"a": "active"}, id="one-active"),
    pytest.param([key("a", 60)], {"a": "pending"}, id="one-pending-no-signer"),
    pytest.param([key("a", -7200), key("b", 600)], {"a": "active", "b": "pending"},
                 id="prepublished-successor"),
    pytest.param([key("a", -7200), key("b", -60)], {"a": "retired", "b": "active"},
                 id="predecessor-retired"),
    pytest.param([key("a", -7200), key("b", -330)], {"a": "expired", "b": "active"},
                 id="predecessor-expired-at-max-ttl"),
    pytest.param([key("a", -7200), key("b", -329)], {"a": "retired", "b": "active"},
                 id="predecessor-retired-just-before-max-ttl"),
    pytest.param([key("a", -7200), key("b", -3600), key("c", -60)],
                 {"a": "expired", "b": "retired", "c": "active"}, id="three-generations"),
    pytest.param([key("a", -7200), key("b", -60, revoked=True)],
                 {"a": "active", "b": "revoked"}, id="revoked-newest-falls-back"),
    pytest.param([key("a", -60, revoked=True)], {"a": "revoked"}, id="only-key-revoked"),
    pytest.param([key("a", 0)], {"a": "active"}, id="activates-exactly-now"),
])
def test_classify(keys, expected):
    states = classify(keys, NOW, MAX_TTL)
    assert {k.kid: states.state_of(k.kid) for k in keys} == expected
    assert states.state_of("nonesuch") == "unknown"
    signer = [states.signer.kid] if states.signer else []
    assert signer == [kid for kid, state in expected.items() if state == "active"]


def test_key_ring_publishes_pending_active_and_retired_only(tmp_path):
    keys = [key("expired", -7200), key("retired", -3600), key("active", -60),
            key("pending", 600), key("revoked", -30, revoked=True)]
    ring = KeyRing(keys, FileKeyStore(tmp_path), MAX_TTL)
    published = [k["kid"] for k in ring.jwks(NOW)["keys"]]
    assert sorted(published) == ["active", "pending", "retired"]
    assert ring.find("retired", NOW) is not None
    assert ring.find("expired", NOW) is None and ring.find("revoked", NOW) is None


def test_key_ring_without_a_signer_says_how_to_fix_it(tmp_path):
    ring = KeyRing([key("pending", 600)], FileKeyStore(tmp_path), MAX_TTL)
    with pytest.raises(LookupError, match="entitlements keys rotate --now"):
        ring.signer(NOW)
