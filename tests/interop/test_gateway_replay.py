"""Someone on the path between a gateway and the service replays old, validly signed
documents: an older policy snapshot must not lift a suspension, an older status list must
not revive a revoked token, an expired document is refused outright (and one held past its
``exp`` stops counting), and plain HTTP is refused off this machine."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
import requests

from entitlements.base.published import RESIGN_SECONDS
from entitlements.gateway import http
from entitlements.gateway.gateway import Gateway
from entitlements.gateway.jws import TokenRejected
from entitlements.policy import service as policy
from entitlements.policy.models import PolicyActivation
from entitlements.tokens import revocation
from tests.support.factories import GATEWAY
from tests.support.interop import change_policy, republish, token_for


class Replayer:
    """A loopback server answering every GET with the recorded document (new ETag each
    time, so the gateway always takes the body)."""

    def __init__(self) -> None:
        self.body = b""
        replayer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("ETag", f'"{time.monotonic_ns()}"')
                self.send_header("Content-Length", str(len(replayer.body)))
                self.end_headers()
                self.wfile.write(replayer.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/replayed"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def replayer() -> Iterator[Replayer]:
    server = Replayer()
    yield server
    server.close()


@pytest.fixture
def gateway(live_server, world, sdk_clock) -> Iterator[Gateway]:
    sdk = Gateway(live_server.url, GATEWAY, clock=sdk_clock, poll_interval=None)
    assert sdk.refresh(), "the documents are at hand"
    yield sdk
    sdk.close()


def refused(feed) -> str:
    with pytest.raises(TokenRejected) as rejected:
        feed.refresh()
    return rejected.value.reason


def test_an_older_snapshot_cannot_lift_a_suspension(live_server, world, gateway, db, admin,
                                                    replayer):
    token = token_for(live_server, world)
    replayer.body = requests.get(live_server.url + "/policy", timeout=5).content  # all open
    change_policy(db, admin, "suspend", patch={"tiers": {"restricted": {"status": "suspended"}}})
    gateway.refresh()
    assert gateway.decide(token, "frontier-2").reason == "tier_suspended"
    suspended_version, confirmed = gateway.snapshot.value.version, gateway.snapshot.checked_at

    gateway.snapshot.url = replayer.url
    assert refused(gateway.snapshot) == "replayed"
    gateway.refresh()
    assert gateway.snapshot.value.version == suspended_version
    assert gateway.snapshot.checked_at == confirmed, "a refused document confirms nothing"
    assert gateway.decide(token, "frontier-2").reason == "tier_suspended"


def test_an_older_status_list_cannot_revive_a_revoked_token(live_server, world, gateway, db,
                                                            admin, replayer):
    token = token_for(live_server, world)
    assert gateway.decide(token, "base-1").outcome == "allow"
    uri = jwt.decode(token, options={"verify_signature": False})["status"]["status_list"]["uri"]
    replayer.body = requests.get(uri, timeout=5).content  # the token's bit still 0
    with db.transaction() as session:
        revocation.revoke(session, admin.actor(), reason="test", client_id=world.client_id)
    republish(live_server)
    gateway.refresh()
    assert gateway.decide(token, "base-1").reason == "revoked"

    feed = gateway.documents.lists[uri]
    feed.url = replayer.url
    feed.refresh()  # validly signed and unexpired: taken, but it keeps the revocation
    gateway.refresh()
    assert gateway.decide(token, "base-1").reason == "revoked"


def test_a_snapshot_held_by_mistake_gives_way_within_one_re_signing_period(
        live_server, world, gateway, db, admin, clock):
    """A scheduled suspension is taken by the gateway the moment it falls due, and its
    cancellation commits just after (it was checked a moment before): the in-force policy
    is older than the one held, and must win at the next re-signing period."""
    token = token_for(live_server, world)
    with db.transaction() as session:
        base = policy.latest(session).version
        row = policy.create_version(session, admin.actor(), base_version=base, reason="later",
                                    patch={"tiers": {"restricted": {"status": "suspended"}}})
        activation = policy.activate(session, admin.actor(), row.version, reason="later",
                                     at=clock.now() + timedelta(seconds=30))
    clock.advance(seconds=30)
    gateway.refresh()
    assert gateway.decide(token, "frontier-2").reason == "tier_suspended"
    with db.transaction() as session:  # the cancel that raced the due time commits
        session.get(PolicyActivation, activation.id).cancelled_at = clock.now()
    assert refused(gateway.snapshot) == "replayed", "the same period: still refused"
    clock.advance(seconds=RESIGN_SECONDS)
    gateway.refresh()
    assert gateway.snapshot.value.version == base
    assert gateway.decide(token, "frontier-2").outcome == "allow"


def test_an_expired_document_is_refused_and_a_held_one_stops_counting(
        live_server, world, gateway, clock, sdk_clock, replayer):
    token = token_for(live_server, world)
    info, key = live_server.app.extensions["entitlements"].keys.get().signer(clock.now())
    current = jwt.decode(requests.get(live_server.url + "/policy", timeout=5).text,
                         options={"verify_signature": False})
    now = int(clock.now().timestamp())
    replayer.body = jwt.encode({**current, "iat": now - 900, "exp": now - 600}, key,
                               algorithm=info.alg,
                               headers={"kid": info.kid, "typ": "entitlements-policy+jwt"}
                               ).encode()
    live_url, gateway.snapshot.url = gateway.snapshot.url, replayer.url
    assert refused(gateway.snapshot) == "expired"
    replayer.body = jwt.encode({k: v for k, v in current.items() if k != "exp"}, key,
                               algorithm=info.alg,
                               headers={"kid": info.kid, "typ": "entitlements-policy+jwt"}
                               ).encode()
    assert refused(gateway.snapshot) == "missing_claims"

    gateway.snapshot.url = live_url
    gateway.snapshot.refresh()
    assert gateway.snapshot.expires_at == current["exp"] + gateway.leeway
    assert gateway.decide(token, "frontier-2").outcome == "allow"
    gateway.snapshot.expires_at = sdk_clock.time() - 1  # held past its exp, polls failing
    clock.advance(gateway._horizon)
    stale = gateway.decide(token, "frontier-2")
    assert (stale.outcome, stale.model, stale.reason) == ("fallback", "base-1", "stale_policy")
    assert gateway.decide(token, "base-1").outcome == "allow"  # public fails open


@pytest.mark.parametrize(("url", "allow_http", "taken"), [
    ("https://entitlements.example", False, True),
    ("http://127.0.0.1:8000", False, True),
    ("http://[::1]:8000", False, True),
    ("http://localhost:8000", False, True),
    ("http://entitlements.example", False, False),
    ("http://10.0.0.5:8000", False, False),
    ("http://entitlements.example", True, True),
    ("ftp://entitlements.example", True, False),
    ("file:///etc/passwd", True, False),
])
def test_documents_come_over_https_unless_from_this_machine(url, allow_http, taken):
    if taken:
        assert http.require_secure(url, allow_http=allow_http) == url
    else:
        with pytest.raises(http.FetchError, match="HTTPS is required"):
            http.require_secure(url, allow_http=allow_http)


def test_a_gateway_refuses_a_plain_http_issuer_before_fetching_anything():
    with pytest.raises(http.FetchError, match="HTTPS is required"):
        Gateway("http://entitlements.example", GATEWAY)


def test_a_redirect_is_not_followed(replayer):
    """A document comes from the URL the metadata names: a redirect could lead off HTTPS."""
    replayer.body = b"the document"
    assert http.get(replayer.url).body == b"the document"

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", replayer.url)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(http.FetchError, match="HTTP 302"):
            http.get(f"http://127.0.0.1:{server.server_address[1]}/policy")
    finally:
        server.shutdown()
        server.server_close()
