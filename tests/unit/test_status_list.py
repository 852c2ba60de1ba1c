"""The Token Status List encoding and its signed token (entitlements.kernel.status_list)."""

from __future__ import annotations

import base64
import random
import zlib

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from entitlements.base import jose
from entitlements.kernel import status_list as sl
from entitlements.kernel.status_list import INVALID, SUSPENDED, VALID, StatusList
from entitlements.tokens.status_lists import encode_status_list_token

NOW = 1_700_000_000
URI = "https://entitlements.example/statuslists/1"


def _lst(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_round_trip_random_statuses(bits: int) -> None:
    rng = random.Random(bits)
    size = 1003
    statuses = [rng.randrange(1 << bits) for _ in range(size)]
    original = StatusList(size, bits)
    for index, value in enumerate(statuses):
        original.set(index, value)

    decoded = StatusList.decode(original.encode())

    assert decoded.bits == bits
    assert decoded.size >= size  # padded to whole bytes
    assert [decoded.get(i) for i in range(size)] == statuses
    assert all(decoded.get(i) == 0 for i in range(size, decoded.size))
    assert decoded.to_bytes() == original.to_bytes()


def test_draft_example_one_bit() -> None:
    statuses = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]
    status_list = StatusList(16, 1)
    for index, value in enumerate(statuses):
        status_list.set(index, value)

    assert status_list.to_bytes() == bytes([0xB9, 0xA3])
    decoded = StatusList.decode({"bits": 1, "lst": "eNrbuRgAAhcBXQ"})
    assert [decoded.get(i) for i in range(16)] == statuses
    # The draft's deflate stream, and its checksum; only the zlib header's level hint
    # differs (run-length strategy: "fastest"), which no reader uses.
    encoded = status_list.encode()
    ours, draft = (base64.urlsafe_b64decode(lst + "==") for lst in (encoded["lst"],
                                                                    "eNrbuRgAAhcBXQ"))
    assert ours[2:] == draft[2:] and ours[0] == draft[0] == 0x78
    assert zlib.decompress(ours) == bytes([0xB9, 0xA3])


def test_two_bit_layout() -> None:
    status_list = StatusList(5, 2)
    for index, value in enumerate([sl.INVALID, sl.SUSPENDED, sl.VALID, 3, sl.INVALID]):
        status_list.set(index, value)
    # Index i occupies bits 2i..2i+1 counting from the least significant bit.
    assert status_list.to_bytes() == bytes([0b11_00_10_01, 0b01])


def test_set_overwrites_without_touching_neighbours() -> None:
    status_list = StatusList(4, 2)
    for index in range(4):
        status_list.set(index, 3)
    status_list.set(1, sl.VALID)
    assert [status_list.get(i) for i in range(4)] == [3, 0, 3, 3]


def test_large_sparse_list_compresses_well() -> None:
    rng = random.Random(0)
    size = 1_000_000
    status_list = StatusList(size, 1)
    for index in rng.sample(range(size), size // 100):
        status_list.set(index, sl.INVALID)

    encoded = status_list.encode()

    # At most 20 KB compressed (1% of a million entries, at random: about 15 KB).
    assert len(base64.urlsafe_b64decode(encoded["lst"] + "==")) <= 20_000
    decoded = StatusList.decode(encoded)
    assert decoded.to_bytes() == status_list.to_bytes()


@pytest.mark.parametrize("bits", [1, 2])
def test_set_many_is_set_for_each(bits: int) -> None:
    rng = random.Random(bits)
    indexes = rng.sample(range(5000), 700)
    one_by_one, at_once = StatusList(5000, bits), StatusList(5000, bits)
    for index in indexes:
        one_by_one.set(index, INVALID)
    at_once.set_many(iter(indexes), INVALID)
    assert at_once.to_bytes() == one_by_one.to_bytes()
    for index in indexes[:100]:
        one_by_one.set(index, VALID)
    at_once.set_many(indexes[:100], VALID)
    assert at_once.to_bytes() == one_by_one.to_bytes()
    at_once.set_many([], INVALID)
    assert at_once.to_bytes() == one_by_one.to_bytes()


@pytest.mark.parametrize(("indexes", "value"), [([3, -1], 1), ([3, 8], 1), ([0], 2),
                                                ([0], -1), ([True], 1), ([1.0], 1)])
def test_set_many_refuses_what_set_refuses(indexes: list, value: int) -> None:
    status_list = StatusList(8, 1)
    with pytest.raises(ValueError):
        status_list.set_many(indexes, value)


@pytest.mark.parametrize("bits", [0, 3, 16, True, "1", None])
def test_bad_bits_refused(bits: object) -> None:
    with pytest.raises(ValueError, match="bits"):
        StatusList(8, bits)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bits"):
        StatusList.decode({"bits": bits, "lst": "eNrbuRgAAhcBXQ"})


@pytest.mark.parametrize(("index", "value"), [(-1, 0), (8, 0), (0, 2), (0, -1), (True, 0)])
def test_set_out_of_range_refused(index: int, value: int) -> None:
    with pytest.raises(ValueError):
        StatusList(8, 1).set(index, value)


def test_get_out_of_range_refused() -> None:
    with pytest.raises(ValueError, match="out of range"):
        StatusList(8, 1).get(8)


@pytest.mark.parametrize("obj", [None, [], "eNrbuRgAAhcBXQ"])
def test_non_object_refused(obj: object) -> None:
    with pytest.raises(ValueError, match="JSON object"):
        StatusList.decode(obj)


@pytest.mark.parametrize("lst", [None, 42, b"eNrbuRgAAhcBXQ"])
def test_non_string_lst_refused(lst: object) -> None:
    with pytest.raises(ValueError, match="must be a string"):
        StatusList.decode({"bits": 1, "lst": lst})


@pytest.mark.parametrize("lst", ["eNrbuRgAAhcBXQ==", "eNrb+RgAAhcBXQ", "eNrb uRgAAhcBXQ", "eNrbu"])
def test_bad_base64_refused(lst: str) -> None:
    with pytest.raises(ValueError, match="base64url"):
        StatusList.decode({"bits": 1, "lst": lst})


@pytest.mark.parametrize(
    "data",
    [
        b"not zlib at all",
        zlib.compress(b"\x01\x02\x03")[:-3],  # truncated
        zlib.compress(b"\x01") + b"junk",  # trailing data
        b"",
    ],
)
def test_bad_zlib_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match="zlib"):
        StatusList.decode({"bits": 1, "lst": _lst(data)})


def test_zip_bomb_refused() -> None:
    bomb = zlib.compress(bytes(20 * 1024 * 1024), 9)
    with pytest.raises(ValueError, match="more than 1048576 bytes"):
        StatusList.decode({"bits": 1, "lst": _lst(bomb)}, max_bytes=1024 * 1024)


def test_max_bytes_is_inclusive() -> None:
    data = zlib.compress(bytes(1024), 9)
    assert StatusList.decode({"bits": 8, "lst": _lst(data)}, max_bytes=1024).size == 1024
    with pytest.raises(ValueError, match="more than 1023 bytes"):
        StatusList.decode({"bits": 8, "lst": _lst(data)}, max_bytes=1023)


def test_reference() -> None:
    claims = {"sub": "x", "status": {"status_list": {"idx": 7, "uri": URI}}}
    assert sl.reference(claims) == (URI, 7)
    assert sl.reference({"sub": "x"}) is None


@pytest.mark.parametrize(
    "status",
    [
        None,
        "revoked",
        {},
        {"status_list": None},
        {"status_list": {"uri": URI}},
        {"status_list": {"idx": -1, "uri": URI}},
        {"status_list": {"idx": True, "uri": URI}},
        {"status_list": {"idx": 1.0, "uri": URI}},
        {"status_list": {"idx": "1", "uri": URI}},
        {"status_list": {"idx": 1}},
        {"status_list": {"idx": 1, "uri": ""}},
        {"status_list": {"idx": 1, "uri": 5}},
    ],
)
def test_reference_malformed(status: object) -> None:
    with pytest.raises(ValueError):
        sl.reference({"status": status})


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _token(key: ec.EllipticCurvePrivateKey, **overrides: object) -> str:
    status_list = StatusList(16, 2)
    status_list.set(3, sl.SUSPENDED)
    arguments: dict[str, object] = {
        "private_key": key,
        "algorithm": "ES256",
        "kid": "k1",
        "issuer": "https://entitlements.example",
        "uri": URI,
        "issued_at": NOW,
        "expires_at": NOW + 3600,
        "ttl": 300,
    }
    arguments.update(overrides)
    return encode_status_list_token(status_list, **arguments)  # type: ignore[arg-type]


def _decode(token: str, key: object, *, expected_uri: str = URI, now: float = NOW + 60
            ) -> tuple[StatusList, float | None]:
    """The server's way: the signature with the issuer's key, then the kernel's rules."""
    try:
        header, _ = jose.peek(token, 1 << 20)
        claims = jose.verify_signature(token, key, "ES256")
    except jose.JwtRefused as refused:
        raise ValueError(f"invalid status list token: {refused}") from None
    read = sl.read_status_list_token(header, claims, uri=expected_uri, now=now)
    return read.statuses, read.ttl


def test_token_round_trip(key: ec.EllipticCurvePrivateKey) -> None:
    token = _token(key)

    header = jwt.get_unverified_header(token)
    assert header["typ"] == sl.STATUS_LIST_TYP
    assert header["kid"] == "k1"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == URI
    assert claims["iss"] == "https://entitlements.example"
    assert claims["iat"] == NOW

    decoded, ttl = _decode(token, key.public_key())
    assert ttl == 300
    assert decoded.bits == 2
    assert [decoded.get(i) for i in range(5)] == [0, 0, 0, sl.SUSPENDED, 0]


def test_token_without_exp_or_ttl(key: ec.EllipticCurvePrivateKey) -> None:
    token = _token(key, expires_at=None, ttl=None)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert "exp" not in claims
    assert "ttl" not in claims
    _, ttl = _decode(token, key.public_key(), now=NOW + 10**9)
    assert ttl is None


def test_token_wrong_typ_refused(key: ec.EllipticCurvePrivateKey) -> None:
    claims = {"sub": URI, "iat": NOW, "status_list": StatusList(8).encode()}
    for typ in ("at+jwt", "JWT"):
        token = jwt.encode(claims, key, algorithm="ES256", headers={"typ": typ})
        with pytest.raises(ValueError, match="typ"):
            _decode(token, key.public_key())


def test_token_wrong_sub_refused(key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(ValueError, match="sub"):
        _decode(_token(key), key.public_key(), expected_uri=URI + "/other")


def test_token_expired_refused(key: ec.EllipticCurvePrivateKey) -> None:
    token = _token(key)
    with pytest.raises(ValueError, match="expired"):
        _decode(token, key.public_key(), now=NOW + 3600)
    # The check is relative to ``now``, not the wall clock.
    old = _token(key, issued_at=1000, expires_at=2000)
    assert _decode(old, key.public_key(), now=1500)[1] == 300


def test_token_wrong_key_refused(key: ec.EllipticCurvePrivateKey) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(ValueError, match="invalid status list token"):
        _decode(_token(other), key.public_key())


def test_token_missing_claims_refused(key: ec.EllipticCurvePrivateKey) -> None:
    headers = {"typ": sl.STATUS_LIST_TYP}
    status = StatusList(8).encode()
    no_iat = jwt.encode({"sub": URI, "status_list": status}, key, "ES256", headers=headers)
    with pytest.raises(ValueError, match="iat"):
        _decode(no_iat, key.public_key())
    no_list = jwt.encode({"sub": URI, "iat": NOW}, key, "ES256", headers=headers)
    with pytest.raises(ValueError, match="JSON object"):
        _decode(no_list, key.public_key())


def test_token_bad_ttl_refused(key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(ValueError, match="ttl"):
        _decode(_token(key, ttl=0), key.public_key())
    with pytest.raises(ValueError, match="ttl"):
        _decode(_token(key, ttl="300"), key.public_key())


def test_token_not_yet_valid_refused(key: ec.EllipticCurvePrivateKey) -> None:
    claims = {"sub": URI, "iat": NOW, "nbf": NOW + 120, "status_list": StatusList(8).encode()}
    token = jwt.encode(claims, key, "ES256", headers={"typ": sl.STATUS_LIST_TYP})
    with pytest.raises(ValueError, match="not yet valid"):
        _decode(token, key.public_key())
    assert _decode(token, key.public_key(), now=NOW + 120)[0].size == 8


@pytest.mark.parametrize("bits", [1, 2, 8])
def test_a_newer_list_keeps_every_revocation_of_the_last(bits):
    held, replayed = StatusList(40, bits), StatusList(40, bits)
    held.set(3, INVALID)
    held.set(39, INVALID)
    replayed.set(7, INVALID)
    if bits > 1:
        held.set(5, SUSPENDED)  # not final: the newer list says what it is now
    merged = replayed.keeping_revocations(held)
    assert [i for i in range(40) if merged.get(i) == INVALID] == [3, 7, 39]
    assert merged.get(5) == VALID
    assert replayed.get(3) == VALID, "the lists themselves are not changed"


def test_a_list_that_changed_its_shape_is_refused():
    with pytest.raises(ValueError, match="size or width"):
        StatusList(16, 1).keeping_revocations(StatusList(8, 1))
    with pytest.raises(ValueError, match="size or width"):
        StatusList(16, 2).keeping_revocations(StatusList(16, 1))
