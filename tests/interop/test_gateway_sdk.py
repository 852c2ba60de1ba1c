"""The gateway SDK against the real service over loopback: imports alone, decides allow /
fallback / deny, refuses every kind of bad token with its reason, follows policy changes
and revocations within two seconds of the admin's action, and survives key rotation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from entitlements.gateway import jws
from entitlements.gateway.documents import parse_jwks
from entitlements.gateway.gateway import Gateway
from entitlements.gateway.http import FetchError
from entitlements.gateway.poller import Poller
from entitlements.kernel import jsonload
from entitlements.signing import service as signing
from entitlements.signing.keystore import FileKeyStore
from entitlements.tokens import revocation
from tests.support.factories import GATEWAY, client_keypair
from tests.support.helpers import eventually
from tests.support.interop import change_policy, republish, token_for
from tests.support.live import free_port


def test_the_sdk_imports_without_flask_or_sqlalchemy():
    code = ("import sys, entitlements.gateway.gateway, entitlements.kernel.policy; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('flask', 'sqlalchemy', 'marshmallow', 'authlib', 'werkzeug')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


@pytest.fixture
def gateway(live_server, world, sdk_clock):
    sdk = Gateway(live_server.url, GATEWAY, clock=sdk_clock, poll_interval=None)
    assert sdk.refresh(), "the documents are at hand"
    yield sdk
    sdk.close()


def test_allow_and_fallback(live_server, world, gateway, db, admin):
    token = token_for(live_server, world)
    allowed = gateway.decide(token, "frontier-2")
    assert (allowed.outcome, allowed.model, allowed.reason) == ("allow", "frontier-2", None)
    assert gateway.decide(token, "nonesuch").reason == "unknown_model"
    change_policy(db, admin, "suspend", patch={"tiers": {"restricted": {"status": "suspended"}}})
    gateway.refresh()
    routed = gateway.decide(token, "frontier-2")
    assert (routed.outcome, routed.model, routed.reason) == ("fallback", "base-1",
                                                             "tier_suspended")
    assert gateway.decide(token, "preview-3").outcome == "allow"  # early-access stays open


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _bad_tokens(live_server, token: str, signer, now: int) -> dict[str, tuple[str, str]]:
    info, private_key = signer
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    head, body, sig = token.split(".")

    def signed(headers=None, **changes) -> str:
        payload = {k: None if v is NULL else v for k, v in {**claims, **changes}.items()
                   if v is not None}
        return jwt.encode(payload, private_key, algorithm=info.alg,
                          headers={"kid": info.kid, "typ": "at+jwt", **(headers or {})})

    list_uri = claims["status"]["status_list"]["uri"]

    published = next(k for k in live_jwks(live_server) if k["kid"] == header["kid"])
    public_pem = jwt.PyJWK(published).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    hs_header = _b64({"alg": "HS256", "typ": "at+jwt", "kid": header["kid"]})
    hs_sig = base64.urlsafe_b64encode(hmac.new(public_pem, f"{hs_header}.{body}".encode(),
                                               hashlib.sha256).digest()).rstrip(b"=").decode()
    stranger, _ = client_keypair(header["kid"])
    return {
        "tampered-payload": (f"{head}.{_b64({**claims, 'entitlements': ['x']})}.{sig}",
                             "bad_signature"),
        "tampered-signature": (f"{head}.{body}.{sig[:-4]}AAAA", "bad_signature"),
        "alg-none": (f"{_b64({'alg': 'none', 'typ': 'at+jwt'})}.{body}.", "algorithm_not_allowed"),
        "hs256-with-public-key": (f"{hs_header}.{body}.{hs_sig}", "algorithm_not_allowed"),
        "foreign-key": (jwt.encode(claims, stranger, algorithm="ES256",
                                   headers={"kid": header["kid"], "typ": "at+jwt"}),
                        "bad_signature"),
        "wrong-issuer": (signed(iss="https://evil.example"), "wrong_issuer"),
        "wrong-audience": (signed(aud="https://other-gateway.example"), "wrong_audience"),
        "expired": (signed(exp=now - 3600, iat=now - 7200, nbf=now - 7200), "expired"),
        "not-yet-valid": (signed(nbf=now + 3600, iat=now + 3600, exp=now + 7200),
                          "not_yet_valid"),
        "unknown-kid": (signed(headers={"kid": "no-such-key"}), "unknown_kid"),
        "wrong-typ": (signed(headers={"typ": "JWT"}), "wrong_typ"),
        "missing-claims": (signed(entitlements=None), "missing_claims"),
        "alg-not-a-string": (f"{_b64({'alg': [], 'typ': 'at+jwt'})}.{body}.{sig}",
                             "algorithm_not_allowed"),
        "negative-status-index": (signed(status={"status_list": {
            "idx": -1, "uri": claims["status"]["status_list"]["uri"]}}), "malformed"),
        "fractional-status-index": (signed(status={"status_list": {
            "idx": 7.9, "uri": claims["status"]["status_list"]["uri"]}}), "malformed"),
        "foreign-status-list": (signed(status={"status_list": {
            "idx": 7, "uri": "https://evil.example/status-lists/1"}}), "untrusted_status_list"),
        "unknown-claims-version": (signed(ent_ver=99), "unsupported_claims_version"),
        "padded-signature": (f"{token}==", "malformed"),
        "standard-alphabet": (_standard_alphabet(head, body, private_key), "malformed"),
        "non-zero-trailing-bits": (f"{head}.{body}.{_trailing_bits(sig)}", "malformed"),
        "crit-header": (signed(headers={"crit": ["exp"], "exp": 1}),
                        "unsupported_critical_header"),
        "status-list-dot-segments": (signed(status={"status_list": {
            "idx": 7, "uri": f"{list_uri}/../1"}}), "untrusted_status_list"),
        "status-list-with-query": (signed(status={"status_list": {
            "idx": 7, "uri": f"{list_uri}?x=1"}}), "untrusted_status_list"),
        "status-list-not-listed": (signed(status={"status_list": {
            "idx": 7, "uri": list_uri.rsplit("/", 1)[0] + "/999"}}), "untrusted_status_list"),
        "entitlements-null": (signed(entitlements=NULL), "malformed"),
        "entitlements-of-numbers": (signed(entitlements=[1, 2]), "malformed"),
        "exp-a-string": (signed(exp=str(now + 60)), "malformed"),
        "exp-true": (signed(exp=True), "malformed"),
        "org-id-a-number": (signed(org={"id": 7, "trust": "verified"}), "malformed"),
        "org-a-list": (signed(org=["org_x"]), "malformed"),
        "sub-a-number": (signed(sub=7), "malformed"),
        "aud-of-numbers": (signed(aud=[1]), "malformed"),
        "ent-ver-a-string": (signed(ent_ver="1"), "malformed"),
        "citizenship-not-a-list": (signed(citizenship={"US": "high"}), "malformed"),
        "garbage": ("not-a-token", "malformed"),
        "empty": ("", "missing_token"),
    }


NULL = object()  # a claim present with the value null


def _standard_alphabet(head: str, body: str, key) -> str:
    """The payload in base64 with '+' and '/', signed as sent: a second spelling of it."""
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    for pad in range(200):  # until the standard alphabet shows in the encoding
        payload["x"] = "?" * pad + ">>>"
        raw = base64.b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
        if "+" in raw or "/" in raw:
            break
    signing_input = f"{head}.{raw}".encode()
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    signature = base64.urlsafe_b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    return f"{head}.{raw}.{signature.rstrip(b'=').decode()}"


def _trailing_bits(signature: str) -> str:
    """The same signature bytes, spelled with non-zero bits past the last byte."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    return signature[:-1] + alphabet[last | 0x01]


def test_the_media_type_form_of_typ_is_accepted(live_server, world, gateway, clock):
    token = token_for(live_server, world)
    info, key = live_server.app.extensions["entitlements"].keys.get().signer(clock.now())
    claims = jwt.decode(token, options={"verify_signature": False})
    for typ in ("application/at+jwt", "AT+JWT"):
        retyped = jwt.encode(claims, key, algorithm=info.alg,
                             headers={"kid": info.kid, "typ": typ})
        assert gateway.decide(retyped, "base-1").outcome == "allow", typ


def live_jwks(live_server) -> list[dict]:
    return requests.get(live_server.url + "/jwks.json", timeout=5).json()["keys"]


def test_every_bad_token_is_denied_with_its_reason(live_server, world, gateway, clock):
    token = token_for(live_server, world)
    signer = live_server.app.extensions["entitlements"].keys.get().signer(clock.now())
    assert gateway.decide(token, "base-1").outcome == "allow"
    bad_tokens = _bad_tokens(live_server, token, signer, int(clock.now().timestamp()))
    for name, (bad, reason) in bad_tokens.items():
        decision = gateway.decide(bad, "base-1")
        assert (name, decision.outcome, decision.reason) == (name, "deny", reason)
        assert decision.token_problem


def test_orjson_and_the_standard_library_decide_alike(live_server, world, clock, sdk_clock,
                                                      monkeypatch):
    """The SDK reads tokens with orjson when it is installed, else with the standard
    library: every token, good or bad, gets the same decision either way."""
    token = token_for(live_server, world)
    signer = live_server.app.extensions["entitlements"].keys.get().signer(clock.now())
    bad = _bad_tokens(live_server, token, signer, int(clock.now().timestamp()))
    tokens = [token, *(bad_token for bad_token, _ in bad.values())]

    def decisions() -> list:
        sdk = Gateway(live_server.url, GATEWAY, clock=sdk_clock, poll_interval=None)
        assert sdk.refresh()
        try:
            return [sdk.decide(t, model) for t in tokens for model in ("base-1", "frontier-2")]
        finally:
            sdk.close()

    with_orjson = decisions()
    assert jws.loads is jsonload.loads and jsonload.FAST
    monkeypatch.setattr(jws, "loads", jsonload._standard)
    assert decisions() == with_orjson
    assert {d.reason for d in with_orjson} >= {None, "malformed", "bad_signature"}


def test_first_decisions_at_once_wait_for_the_index_of_status_lists(live_server, world,
                                                                    sdk_clock):
    """A fresh gateway asked by many threads at once reads the issuer's index of lists once;
    the others wait for it rather than call the token's list untrusted."""
    token = token_for(live_server, world)
    sdk = Gateway(live_server.url, GATEWAY, clock=sdk_clock, poll_interval=None)
    assert sdk.refresh()
    start = threading.Barrier(8)

    def decide(model: str) -> str | None:
        start.wait(timeout=30)
        return sdk.decide(token, model).reason

    try:
        with ThreadPoolExecutor(8) as pool:
            reasons = list(pool.map(decide, ["base-1", "frontier-2"] * 4))
    finally:
        sdk.close()
    assert reasons == [None] * 8


def test_a_revoked_token_is_denied(live_server, world, gateway, db, admin):
    token = token_for(live_server, world)
    assert gateway.decide(token, "base-1").outcome == "allow"
    with db.transaction() as session:
        revocation.revoke(session, admin.actor(), reason="test", client_id=world.client_id)
    republish(live_server)
    gateway.refresh()
    assert gateway.decide(token, "base-1").reason == "revoked"


def test_the_poller_refreshes_every_period_and_backs_off_while_the_issuer_is_down():
    """The poller's waits, as the thread would sleep them: one period after a success,
    doubling (up to the cap) after each failure, back to one period once it succeeds."""
    outcomes = iter([True, False, False, False, False, False, True, True])
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        return len(waits) > 8  # stop after eight polls

    poller = Poller(lambda: next(outcomes), interval=1.0, max_backoff=8.0, wait=wait)
    poller.run()
    assert waits == [1.0, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 1.0, 1.0]


def test_a_started_gateway_sees_a_change_through_its_own_poller(live_server, world, sdk_clock,
                                                                db, admin):
    token = token_for(live_server, world)
    with Gateway(live_server.url, GATEWAY, clock=sdk_clock, poll_interval=0.05) as sdk:
        assert sdk.ready and sdk.decide(token, "frontier-2").outcome == "allow"
        change_policy(db, admin, "suspend", patch={"tiers": {"restricted": {
            "status": "suspended"}}})
        assert eventually(lambda: sdk.decide(token, "frontier-2").outcome == "fallback"), (
            "no refresh() here: the poller thread brought the change")


def test_a_gateway_never_started_starts_on_its_first_decision(live_server, world, sdk_clock):
    token = token_for(live_server, world)
    sdk = Gateway(live_server.url, GATEWAY, clock=sdk_clock, poll_interval=0.05)
    try:
        assert sdk.decide(token, "base-1").outcome == "allow"
        assert sdk._poller is not None and sdk._poller.started
    finally:
        sdk.close()


def test_a_gateway_started_while_the_issuer_is_down_is_not_ready_and_denies(sdk_clock):
    unreachable = f"http://127.0.0.1:{free_port()}"
    with Gateway(unreachable, GATEWAY, clock=sdk_clock) as sdk:
        assert not sdk.ready
        decision = sdk.decide("a.b.c", "base-1")
        assert (decision.outcome, decision.reason) == ("deny", "issuer_unavailable")
        assert decision.unavailable and not decision.token_problem


def test_key_rotation_never_rejects_a_valid_token(live_server, world, gateway, db, admin,
                                                  keys_dir):
    tokens = [token_for(live_server, world)]
    failures: list[str] = []
    stop = threading.Event()
    decided = Passes()

    def decide_forever():
        while not stop.is_set():
            batch = list(tokens)
            for token in batch:
                decision = gateway.decide(token, "base-1")
                if decision.outcome != "allow":
                    failures.append(str(decision.reason))
            decided.count(len(batch))

    worker = threading.Thread(target=decide_forever)
    worker.start()
    try:
        with db.transaction() as session:
            signing.rotate(session, FileKeyStore(str(keys_dir)), admin.actor(), "ES256",
                           timedelta(0))
        live_server.app.extensions["entitlements"].keys.invalidate()
        tokens.append(token_for(live_server, world))
        passes_with_both = decided.wait_for(2, timeout=30)
    finally:
        stop.set()
        worker.join(timeout=5)
    kids = {jwt.get_unverified_header(t)["kid"] for t in tokens}
    assert len(kids) == 2, "the second token should be signed by the new key"
    assert passes_with_both, "the worker decided the new token too"
    assert failures == []


class Passes:
    """Counts the worker's passes over both tokens, so the test waits for work, not time."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._full = 0

    def count(self, tokens: int) -> None:
        with self._condition:
            self._full += tokens == 2
            self._condition.notify_all()

    def wait_for(self, passes: int, timeout: float) -> bool:
        with self._condition:
            return self._condition.wait_for(lambda: self._full >= passes, timeout)


def test_past_its_maximum_staleness_a_tier_fails_closed_and_public_stays_open(
        live_server, world, sdk_clock, clock):
    sdk = Gateway(live_server.url, GATEWAY, clock=sdk_clock, poll_interval=None,
                  default_max_staleness=0.3)
    try:
        token = token_for(live_server, world)
        assert sdk.decide(token, "frontier-2").outcome == "allow"
        clock.advance(1.1)  # no poll: the snapshot and status list go stale
        stale = sdk.decide(token, "frontier-2")
        assert (stale.outcome, stale.model, stale.reason) == ("fallback", "base-1",
                                                              "stale_policy")
        assert sdk.decide(token, "base-1").outcome == "allow"  # public fails open
        sdk.refresh()
        clock.advance(1.1)  # past the decision cache's horizon
        sdk.refresh()
        assert sdk.decide(token, "frontier-2").outcome == "allow"
    finally:
        sdk.close()


def test_a_forked_worker_decides_with_its_own_locks_and_poller(live_server, world, sdk_clock):
    token = token_for(live_server, world)
    with Gateway(live_server.url, GATEWAY, clock=sdk_clock, poll_interval=0.05) as gateway:
        assert gateway.decide(token, "frontier-2").outcome == "allow"
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: decide, report, and leave at once
            try:
                decision = gateway.decide(token, "frontier-2")
                thread = gateway._poller._thread
                polling = thread is not None and thread.is_alive()
                os.write(write, f"{decision.outcome}:{polling}:{gateway.refresh()}".encode())
            finally:
                os._exit(0)
        os.close(write)
        _, status = os.waitpid(pid, 0)
        with os.fdopen(read) as reader:
            assert reader.read() == "allow:True:True", "the child decides and polls on its own"
    assert status == 0


def test_a_withdrawn_key_stops_verifying_cached_tokens(live_server, world, gateway, db, admin,
                                                       keys_dir, clock):
    token = token_for(live_server, world)
    assert gateway.decide(token, "base-1").outcome == "allow"
    kid = jwt.get_unverified_header(token)["kid"]
    with db.transaction() as session:
        signing.revoke(session, FileKeyStore(str(keys_dir)), admin.actor(), kid, "compromised",
                       timedelta(minutes=5))
    live_server.app.extensions["entitlements"].keys.invalidate()
    gateway.refresh()
    assert gateway.decide(token, "base-1").reason == "unknown_kid"


def test_a_deeply_nested_payload_is_malformed_not_a_crash(gateway):
    head = _b64({"alg": "ES256", "typ": "at+jwt", "kid": "k"})
    body = base64.urlsafe_b64encode(b"[" * 5000).rstrip(b"=").decode()
    assert gateway.decide(f"{head}.{body}.AAAA", "base-1").reason == "malformed"


@pytest.mark.parametrize("body", [b'{"keys": 5}', b'{"keys": null}', b"[]", b"nope"])
def test_a_jwks_that_is_not_a_key_list_is_refused(body):
    with pytest.raises(FetchError, match="not a JSON key set"):
        parse_jwks(body)


def test_a_document_the_poller_cannot_read_keeps_the_last_good_copy(gateway, caplog):
    held = gateway.snapshot.value

    def unreadable(body: bytes):
        raise AttributeError("'list' object has no attribute 'items'")

    gateway.snapshot._parse, gateway.snapshot.etag = unreadable, None
    gateway.refresh()  # no exception escapes: the poller thread lives on
    assert gateway.snapshot.value is held
    assert "keeping the last good copy" in caplog.text
