"""The gateway's token reader on its own (entitlements.gateway.jws and tokens): canonical
base64url as the kernel reads it, ECDSA signatures in DER as cryptography writes them, every
kind of malformed token refused with its reason in the same order, and the same answers with
orjson and with the standard library's JSON parser."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from entitlements.gateway import jws
from entitlements.gateway.clock import ManualClock
from entitlements.gateway.tokens import TokenVerifier
from entitlements.kernel import base64url, jsonload
from entitlements.kernel import status_list as sl

NOW = 1_800_000_000
ISSUER = "https://entitlements.example"
AUDIENCE = "https://gateway.example/models"
LIST = f"{ISSUER}/status-lists/1"
ES256 = ec.generate_private_key(ec.SECP256R1())
KEY = jws.PublicKey("k1", "ES256", ES256.public_key())
#: The two JSON readers a gateway may run with: orjson (installed here) and the fallback.
READERS = {"orjson": jsonload.loads, "standard": jsonload._standard}


def b64(data: bytes) -> str:
    return base64url.encode(data)


def segment(value: Any) -> str:
    return b64(value if isinstance(value, bytes) else json.dumps(value).encode())


def sign(header: Any, claims: Any, key: Any = ES256) -> str:
    """A compact JWS of ``header`` and ``claims`` (objects, or the bytes of a segment)."""
    signing_input = f"{segment(header)}.{segment(claims)}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


HEADER = {"alg": "ES256", "typ": "at+jwt", "kid": "k1"}


def claims(**changes: Any) -> dict[str, Any]:
    base = {"iss": ISSUER, "sub": "cli_a", "aud": AUDIENCE, "exp": NOW + 600, "iat": NOW,
            "nbf": NOW, "jti": "j1", "client_id": "cli_a", "scope": "tier:public",
            "entitlements": ["public"], "org": {"id": "org_a", "trust": "verified"},
            "ent_ver": 1, "pol_ver": 2, "status": {"status_list": {"idx": 3, "uri": LIST}}}
    return {k: v for k, v in {**base, **changes}.items() if v is not ...}


def key_for(kid: Any) -> jws.PublicKey | None:
    """The published keys by kid, as the gateway's JWKS finds them (a kid is a string)."""
    return {"k1": KEY}.get(kid) if isinstance(kid, str) else None


def verifier() -> TokenVerifier:
    return TokenVerifier(ISSUER, AUDIENCE, keys=key_for,
                         status_lists=lambda uri: uri if uri == LIST else None,
                         clock=ManualClock(NOW), leeway=30.0, cache_size=100)


def outcome(token: str) -> Any:
    """What a fresh verifier makes of ``token``: its facts, or the reason it refuses it."""
    try:
        checked = verifier().verify(token)
    except jws.TokenRejected as rejected:
        return rejected.reason
    return checked._replace(expires_at=round(checked.expires_at))


# -- canonical base64url ----------------------------------------------------------------

def _spellings() -> list[str]:
    rng = random.Random(7)
    found = ["", "A", "AA", "AAA", "AAAA", "AB", "AAB", "QQ==", "QQ", "QR", "QUI", "QUJ",
             "a+b/", "a-b_", "ab c", "ab\n", "é", "AAAA====", "=AAA", "A=AA", "-_-_", "__8"]
    for _ in range(300):
        data = rng.randbytes(rng.randrange(0, 40))
        text = b64(data)
        found.append(text)
        if text:  # and a character changed into anything printable, or one dropped
            i = rng.randrange(len(text))
            found.append(text[:i] + chr(rng.randrange(32, 127)) + text[i + 1:])
            found.append(text[:i] + text[i + 1:])
    return found


@pytest.mark.parametrize("text", _spellings())
def test_base64url_is_read_as_the_kernel_reads_it(text):
    try:
        expected = base64url.decode(text)
    except ValueError:
        with pytest.raises(ValueError):
            jws.b64decode(text)
        return
    assert jws.b64decode(text) == expected
    assert jws.b64decode(text.encode()) == expected


# -- signatures --------------------------------------------------------------------------

@pytest.mark.parametrize("half", [32, 48])
def test_raw_signatures_become_the_der_cryptography_writes(half):
    rng = random.Random(half)
    for n in range(2000):
        raw = bytearray(rng.randbytes(2 * half))
        if n % 5 == 0:  # leading zero bytes in R or S, or a high bit after them
            zeros = rng.randrange(1, 4)
            raw[:zeros] = bytes(zeros)
        if n % 7 == 0:
            zeros = rng.randrange(1, 4)
            raw[half:half + zeros] = bytes(zeros)
        if n % 11 == 0:
            raw[rng.choice((0, half))] |= 0x80
        if n == 13:
            raw[:half] = bytes(half)  # R = 0
        expected = encode_dss_signature(int.from_bytes(raw[:half], "big"),
                                        int.from_bytes(raw[half:], "big"))
        assert jws.raw_to_der(bytes(raw), half) == expected
        frames = jws._der_frames(half)
        if raw[0] and raw[half]:
            head, middle = frames[raw[0] >> 7][raw[half] >> 7]
            assert head + raw[:half] + middle + raw[half:] == expected


def _signers() -> list[tuple[str, Any, Any]]:
    def es(curve: ec.EllipticCurve, digest: hashes.HashAlgorithm, half: int) -> Any:
        key = ec.generate_private_key(curve)

        def signing(data: bytes) -> bytes:
            r, s = decode_dss_signature(key.sign(data, ec.ECDSA(digest)))
            return r.to_bytes(half, "big") + s.to_bytes(half, "big")
        return key.public_key(), signing

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    return [
        ("ES256", *es(ec.SECP256R1(), hashes.SHA256(), 32)),
        ("ES384", *es(ec.SECP384R1(), hashes.SHA384(), 48)),
        ("EdDSA", ed_key.public_key(), ed_key.sign),
        ("RS256", rsa_key.public_key(),
         lambda data: rsa_key.sign(data, padding.PKCS1v15(), hashes.SHA256())),
        ("PS256", rsa_key.public_key(), lambda data: rsa_key.sign(data, pss, hashes.SHA256())),
    ]


@pytest.mark.parametrize(("alg", "public", "signing"), _signers())
def test_each_algorithm_verifies_its_own_signatures_only(alg, public, signing):
    key = jws.PublicKey("k", alg, public)
    for n in range(20):
        data = f"header.payload-{n}".encode()
        signature = signing(data)
        assert key.verify(data, signature)
        assert not key.verify(data + b"x", signature)
        assert not key.verify(data, signature[:-1])
        assert not key.verify(data, bytes(len(signature)))
        assert not key.verify(data, b"")


def test_a_key_object_that_verifies_nothing_refuses():
    assert not jws.PublicKey("k", "ES256", "not a key").verify(b"x", bytes(64))


# -- tokens ------------------------------------------------------------------------------

GOOD = sign(HEADER, claims())
NAN = segment(b'{"exp": NaN}')


def stray_bits(text: str) -> str:
    """The same bytes, spelled with non-zero bits past the last one."""
    alphabet = jws._ALPHABET.decode()
    assert len(text) % 4 in (2, 3)
    return text[:-1] + alphabet[alphabet.index(text[-1]) | 1]


def malformed_tokens() -> dict[str, tuple[str, str]]:
    head, body, signature = GOOD.split(".")
    return {
        "garbage": ("garbage", "malformed"),
        "two segments": (f"{head}.{body}", "malformed"),
        "four segments": (f"{GOOD}.{signature}", "malformed"),
        "empty": ("..", "malformed"),
        "too large": (f"{head}.{'A' * jws.MAX_TOKEN_BYTES}.{signature}", "malformed"),
        "not ascii": (f"{head}.{body}é.{signature}", "malformed"),
        "padding": (f"{head}.{body}.{signature}==", "malformed"),
        "padded payload": (f"{head}.{body}{'=' * (-len(body) % 4) or '===='}.{signature}",
                           "malformed"),
        "a space": (f"{head}.{body[:5]} {body[5:]}.{signature}", "malformed"),
        "a tail of one character": (f"{head}.{body}A.{signature}"
                                    if len(body) % 4 == 0 else f"{head}.A.{signature}",
                                    "malformed"),
        "header not base64url": (f"{head}!.{body}.{signature}", "malformed"),
        "header not json": (f"{segment(b'{alg')}.{body}.{signature}", "malformed"),
        "payload not json": (f"{head}.{segment(b'nope')}.{signature}", "malformed"),
        "payload bytes not utf-8": (f"{head}.{segment(bytes([0xff, 0xfe]))}.{signature}",
                                    "malformed"),
        "payload nan": (f"{head}.{NAN}.{signature}", "malformed"),
        "payload a list": (sign(HEADER, [claims()]), "malformed"),
        "payload a string": (sign(HEADER, "claims"), "malformed"),
        "payload a number": (sign(HEADER, 7), "malformed"),
        "header a list": (sign([HEADER], claims()), "malformed"),
        "header null": (sign(None, claims()), "malformed"),
        "deep payload": (f"{head}.{segment(b'[' * 5000)}.{signature}", "malformed"),
        "bad payload before bad alg": (f"{segment({'alg': 'none'})}.{segment(b'[')}.",
                                       "malformed"),
        "alg none": (sign({**HEADER, "alg": "none"}, claims()), "algorithm_not_allowed"),
        "alg hs256": (sign({**HEADER, "alg": "HS256"}, claims()), "algorithm_not_allowed"),
        "alg a list": (sign({**HEADER, "alg": ["ES256"]}, claims()), "algorithm_not_allowed"),
        "no alg": (sign({"typ": "at+jwt", "kid": "k1"}, claims()), "algorithm_not_allowed"),
        "crit": (sign({**HEADER, "crit": ["exp"]}, claims()), "unsupported_critical_header"),
        "typ jwt": (sign({**HEADER, "typ": "JWT"}, claims()), "wrong_typ"),
        "no typ": (sign({"alg": "ES256", "kid": "k1"}, claims()), "wrong_typ"),
        "typ a number": (sign({**HEADER, "typ": 1}, claims()), "wrong_typ"),
        "unknown kid": (sign({**HEADER, "kid": "k2"}, claims()), "unknown_kid"),
        "kid a list": (sign({**HEADER, "kid": ["k1"]}, claims()), "unknown_kid"),
        "no kid": (sign({"alg": "ES256", "typ": "at+jwt"}, claims()), "unknown_kid"),
        "the key's other algorithm": (sign({**HEADER, "alg": "RS256"}, claims()),
                                      "bad_signature"),
        "another key": (sign(HEADER, claims(), ec.generate_private_key(ec.SECP256R1())),
                        "bad_signature"),
        "tampered": (f"{head}.{segment(claims(entitlements=['restricted']))}.{signature}",
                     "bad_signature"),
        "short signature": (f"{head}.{body}.{signature[:-2]}", "bad_signature"),
        "signature with stray bits": (f"{head}.{body}.{stray_bits(signature)}", "malformed"),
        "no signature": (f"{head}.{body}.", "bad_signature"),
    }


def claim_tokens() -> dict[str, tuple[str, Any]]:
    """Signed tokens whose claims break a rule, with the reason."""
    huge = 10 ** 30
    return {name: (sign(HEADER, payload), reason) for name, (payload, reason) in {
        "no claims": ({}, "missing_claims"),
        "missing sub": (claims(sub=...), "missing_claims"),
        "missing status is fine": (claims(status=...), None),
        "sub null": (claims(sub=None), "malformed"),
        "exp a string": (claims(exp=str(NOW)), "malformed"),
        "exp true": (claims(exp=True), "malformed"),
        "exp huge": (claims(exp=huge), None),  # a float past 64 bits: far in the future
        "exp past every float": (f'{{"exp": 1{"0" * 400}}}'.encode(), "malformed"),
        "iat huge": (claims(iat=huge, nbf=...), "not_yet_valid"),
        "jti a number": (claims(jti=7), "malformed"),
        "pol_ver a float": (claims(pol_ver=2.0), "malformed"),
        "entitlements of numbers": (claims(entitlements=[1]), "malformed"),
        "aud of numbers": (claims(aud=[1]), "malformed"),
        "aud a list with ours": (claims(aud=["x", AUDIENCE]), None),
        "wrong aud": (claims(aud="https://other.example"), "wrong_audience"),
        "wrong iss": (claims(iss="https://evil.example"), "wrong_issuer"),
        "wrong iss before wrong aud": (claims(iss="x", aud="y"), "wrong_issuer"),
        "expired": (claims(exp=NOW - 31), "expired"),
        "within the leeway": (claims(exp=NOW - 29), None),
        "not yet valid": (claims(nbf=NOW + 31), "not_yet_valid"),
        "iat ahead without nbf": (claims(nbf=..., iat=NOW + 31), "not_yet_valid"),
        "claims version": (claims(ent_ver=2), "unsupported_claims_version"),
        "cnf without jkt": (claims(cnf={}), "malformed"),
        "cnf jkt a number": (claims(cnf={"jkt": 1}), "malformed"),
        "org without trust": (claims(org={"id": "org_a"}), "missing_claims"),
        "org id a number": (claims(org={"id": 1, "trust": "verified"}), "malformed"),
        "status not an object": (claims(status={"status_list": []}), "malformed"),
        "status idx negative": (claims(status={"status_list": {"idx": -1, "uri": LIST}}),
                                "malformed"),
        "status idx true": (claims(status={"status_list": {"idx": True, "uri": LIST}}),
                            "malformed"),
        "status idx a float": (claims(status={"status_list": {"idx": 1.0, "uri": LIST}}),
                               "malformed"),
        "status uri empty": (claims(status={"status_list": {"idx": 1, "uri": ""}}),
                             "malformed"),
        "status uri foreign": (claims(status={"status_list": {"idx": 1, "uri": LIST + "x"}}),
                               "untrusted_status_list"),
        "citizenship of a person": (claims(sub="person", citizenship=[
            {"nationality": "US", "level": "high", "exp": NOW + 10}]), None),
        "citizenship unknown level": (claims(sub="person", citizenship=[
            {"nationality": "US", "level": "x", "exp": NOW + 10}]), "malformed"),
        "duplicate claims, the last counts": (
            b'{"iss": "x", ' + json.dumps(claims()).encode()[1:], None),
        "duplicate claims, the last is wrong": (
            json.dumps(claims()).encode()[:-1] + b', "iss": "x"}', "wrong_issuer"),
    }.items()}


@pytest.mark.parametrize("name", list(malformed_tokens()))
def test_a_malformed_token_is_refused_with_its_reason(name):
    token, reason = malformed_tokens()[name]
    assert outcome(token) == reason


@pytest.mark.parametrize("name", list(claim_tokens()))
def test_each_claim_rule(name):
    token, reason = claim_tokens()[name]
    found = outcome(token)
    assert (found if isinstance(found, str) else None) == reason, found


def test_a_good_token_and_its_facts():
    checked = verifier().verify(GOOD)
    assert (checked.sub, checked.expires_at, checked.tiers, checked.status, checked.jkt) == (
        "cli_a", NOW + 630, ("public",), (LIST, 3), None)
    assert checked.subject.organization_id == "org_a" and not checked.subject.is_person


def test_a_first_token_without_claims_is_refused():
    with pytest.raises(jws.TokenRejected, match="missing_claims"):
        verifier().verify(sign(HEADER, {}))


def test_a_shape_seen_before_with_a_claim_of_another_type_is_still_refused():
    tokens = verifier()
    assert tokens.verify(GOOD).sub == "cli_a"
    for bad in (claims(jti=7), claims(scope=None), claims(pol_ver="2")):
        with pytest.raises(jws.TokenRejected, match="malformed"):
            tokens.verify(sign(HEADER, bad))
    assert tokens.verify(sign(HEADER, claims(jti="j2"))).sub == "cli_a"


def test_the_status_reference_rules_are_the_kernels():
    for entry in ({"idx": 3, "uri": LIST}, {"idx": -1, "uri": LIST}, {"idx": True, "uri": LIST},
                  {"idx": 2.0, "uri": LIST}, {"idx": 1}, {"uri": LIST}, {"idx": 1, "uri": ""},
                  {"idx": 1, "uri": 5}, [], "x", None):
        payload = claims(status={"status_list": entry})
        try:
            sl.reference(payload)
            kernel = None
        except ValueError:
            kernel = "malformed"
        found = outcome(sign(HEADER, payload))
        assert (found if isinstance(found, str) else None) == kernel, entry


def test_orjson_and_the_standard_library_read_tokens_alike(monkeypatch):
    """Every token above, read with orjson and then with the standard library's parser:
    the same facts or the same reason."""
    assert jws.loads is READERS["orjson"] and jsonload.FAST, "orjson is installed here"
    tokens = {**malformed_tokens(), **claim_tokens(), "good": (GOOD, None)}
    expected = {name: outcome(token) for name, (token, _) in tokens.items()}
    monkeypatch.setattr(jws, "loads", READERS["standard"])
    assert {name: outcome(token) for name, (token, _) in tokens.items()} == expected


def test_documents_share_the_reader_of_their_typ():
    assert jws.verified(GOOD, key_for, "at+jwt")[1]["sub"] == "cli_a"
    with pytest.raises(jws.TokenRejected, match="wrong_typ"):
        jws.verified(GOOD, key_for, "statuslist+jwt")
