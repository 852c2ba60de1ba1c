"""The SDK's integrations in front of stand-in models: the HTTP authorization service and
the WSGI middleware on loopback sockets, the ASGI middleware and the Flask decorator."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading

import pytest
import requests
from flask import Flask, g
from werkzeug.serving import make_server

from entitlements.gateway import authz
from entitlements.gateway.gateway import Gateway
from entitlements.gateway.integrations import (
    AsgiMiddleware,
    WsgiMiddleware,
    require_entitlement,
)
from tests.support.factories import GATEWAY
from tests.support.interop import change_policy, token_for
from tests.support.live import free_port, serving


@pytest.fixture
def sdk(live_server, world, sdk_clock):
    gateway = Gateway(live_server.url, GATEWAY, clock=sdk_clock, poll_interval=None)
    assert gateway.refresh(), "the documents are at hand"
    yield gateway
    gateway.close()


@pytest.fixture
def authz_url(sdk):
    with serving(sdk) as url:
        yield url



def ask(url: str, token: str | None, model: str) -> requests.Response:
    headers = {"X-Entitlements-Model": model}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.get(url + "/v1/chat", headers=headers, timeout=5)


def test_the_authorization_service_routes_falls_back_and_refuses(
        live_server, world, sdk, authz_url, db, admin):
    token = token_for(live_server, world)
    allowed = ask(authz_url, token, "frontier-2")
    assert allowed.status_code == 200
    assert (allowed.headers["X-Entitlements-Model"],
            allowed.headers["X-Entitlements-Decision"]) == ("frontier-2", "allow")
    change_policy(db, admin, "suspend", patch={"tiers": {"restricted": {"status": "suspended"}}})
    sdk.refresh()
    routed = ask(authz_url, token, "frontier-2")
    assert routed.status_code == 200
    assert (routed.headers["X-Entitlements-Model"], routed.headers["X-Entitlements-Reason"]) == (
        "base-1", "tier_suspended")
    bad = ask(authz_url, token + "x", "base-1")
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
    assert ask(authz_url, None, "base-1").status_code == 401
    unknown = ask(authz_url, token, "nonesuch")
    assert unknown.status_code == 403 and unknown.json()["reason"] == "unknown_model"
    by_query = requests.get(authz_url + "/check?model=base-1", timeout=5,
                            headers={"Authorization": f"Bearer {token}"})
    assert by_query.headers["X-Entitlements-Model"] == "base-1"


def test_head_and_options_get_the_decision_and_no_body(live_server, world, authz_url):
    """Envoy forwards the original method: a HEAD refusal must leave no body bytes on the
    pooled connection, and a preflight OPTIONS gets a decision, not a 501."""
    token = token_for(live_server, world)
    connection = http.client.HTTPConnection(authz_url.removeprefix("http://"), timeout=5)
    try:
        for method, bearer_token, status in (("HEAD", "forged", 401), ("HEAD", token, 200),
                                             ("OPTIONS", token, 200), ("GET", token, 200)):
            connection.request(method, "/v1/chat", headers={
                "Authorization": f"Bearer {bearer_token}", "X-Entitlements-Model": "base-1"})
            answer = connection.getresponse()
            answer.read()
            assert (method, answer.status) == (method, status)
        assert answer.getheader("X-Entitlements-Model") == "base-1"
    finally:
        connection.close()


def test_the_authorization_service_drops_forwarded_bodies_on_keep_alive(
        live_server, world, authz_url):
    """A proxy that forwards the body (Envoy's with_request_body) must not have it read as
    the next request; a body too large to drain closes the connection instead."""
    token = token_for(live_server, world)
    headers = {"Authorization": f"Bearer {token}", "X-Entitlements-Model": "base-1"}
    smuggled = b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n"
    connection = http.client.HTTPConnection(authz_url.removeprefix("http://"), timeout=5)
    try:
        for method, body in (("POST", smuggled), ("GET", None), ("PUT", b"{}" * 100)):
            connection.request(method, "/v1/chat", body=body, headers=headers)
            answer = connection.getresponse()
            answer.read()
            assert (answer.status, answer.getheader("X-Entitlements-Model")) == (200, "base-1")
            assert answer.getheader("Connection") != "close"
        connection.request("POST", "/v1/chat", body=b"x" * (authz.MAX_DRAINED_BODY + 1),
                           headers=headers)
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 200 and answer.getheader("Connection") == "close"
    finally:
        connection.close()


def models_app(environ, start_response):
    """Two stand-in models; the middleware has already picked which one answers."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"answered by {environ['HTTP_X_ENTITLEMENTS_MODEL']}".encode()]


def test_the_wsgi_middleware_fronts_the_models(live_server, world, sdk, db, admin):
    server = make_server("127.0.0.1", free_port(), WsgiMiddleware(models_app, sdk))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        token = token_for(live_server, world)
        assert ask(url, token, "frontier-2").text == "answered by frontier-2"
        change_policy(db, admin, "suspend",
                      patch={"tiers": {"restricted": {"status": "suspended"}}})
        sdk.refresh()
        assert ask(url, token, "frontier-2").text == "answered by base-1"
        assert ask(url, "garbage", "base-1").status_code == 401
        assert ask(url, token, "nonesuch").status_code == 403
    finally:
        server.shutdown()


def test_the_wsgi_middleware_checks_proofs_for_the_url_it_serves(sdk, bound, key, sdk_clock):
    server = make_server("127.0.0.1", free_port(), WsgiMiddleware(models_app, sdk))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/v1/chat"
    try:
        def send(proofs: list[str]) -> tuple[int, str, str]:
            """A GET with each proof in a DPoP header of its own (http.client sends
            repeated headers as they are)."""
            connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=5)
            connection.putrequest("GET", "/v1/chat?n=1")
            connection.putheader("Authorization", f"DPoP {bound}")
            connection.putheader("X-Entitlements-Model", "frontier-2")
            for proof in proofs:
                connection.putheader("DPoP", proof)
            connection.endheaders()
            answer = connection.getresponse()
            body = answer.read().decode()
            connection.close()
            return answer.status, body, answer.getheader("WWW-Authenticate") or ""

        assert send([key.proof("GET", url, now=sdk_clock.time(), token=bound)]) == (
            200, "answered by frontier-2", "")
        status, body, _ = send([key.proof("POST", url, now=sdk_clock.time(), token=bound)])
        assert (status, json.loads(body)["reason"]) == (401, "dpop_wrong_htm")
        status, body, challenge = send([key.proof("GET", url, now=sdk_clock.time(), token=bound),
                                        key.proof("GET", url, now=sdk_clock.time(), token=bound)])
        assert (status, json.loads(body)["reason"]) == (401, "dpop_multiple_proofs")
        assert challenge.startswith('DPoP error="invalid_dpop_proof"')
    finally:
        server.shutdown()


def test_the_asgi_middleware(live_server, world, sdk):
    seen = {}

    async def app(scope, receive, send):
        seen["decision"] = scope["state"]["entitlements"]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def call(token: str, model: str) -> list[dict]:
        sent: list[dict] = []

        async def receive():
            return {"type": "http.request", "body": b""}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "headers": [(b"authorization", f"Bearer {token}".encode()),
                                             (b"x-entitlements-model", model.encode())]}
        await AsgiMiddleware(app, sdk)(scope, receive, send)
        return sent

    token = token_for(live_server, world)
    assert asyncio.run(call(token, "frontier-2"))[0]["status"] == 200
    assert seen["decision"].model == "frontier-2"
    refused = asyncio.run(call("garbage", "frontier-2"))
    assert refused[0]["status"] == 401
    assert (b"www-authenticate", b'Bearer error="invalid_token", '
            b'error_description="malformed"') in refused[0]["headers"]


def test_the_asgi_middleware_checks_proofs(sdk, bound, key, sdk_clock):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def call(proof: str) -> list[dict]:
        sent: list[dict] = []

        async def receive():
            return {"type": "http.request", "body": b""}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "POST", "scheme": "https", "path": "/v1/a/b",
                 "raw_path": b"/v1/a%2Fb", "root_path": "", "query_string": b"x=1",
                 "headers": [(b"host", b"models.example"),
                             (b"authorization", f"DPoP {bound}".encode()),
                             (b"dpop", proof.encode()),
                             (b"x-entitlements-model", b"frontier-2")]}
        await AsgiMiddleware(app, sdk)(scope, receive, send)
        return sent

    served = "https://models.example/v1/a%2Fb"  # as it came, not as ASGI decoded it
    assert asyncio.run(call(key.proof("POST", served, now=sdk_clock.time(),
                                      token=bound)))[0]["status"] == 200
    stale = asyncio.run(call(key.proof("POST", served, now=sdk_clock.time() - 3600,
                                       token=bound)))
    assert stale[0]["status"] == 401
    assert any(name == b"www-authenticate" and value.startswith(b"DPoP ")
               for name, value in stale[0]["headers"])


def test_the_flask_decorator(live_server, world, sdk):
    app = Flask("models")

    @app.post("/v1/models/<model>/chat")
    @require_entitlement(sdk)
    def chat(model: str):
        return {"answered_by": g.entitlements.model, "asked_for": model}

    token = token_for(live_server, world)
    client = app.test_client()
    answer = client.post("/v1/models/frontier-2/chat",
                         headers={"Authorization": f"Bearer {token}"})
    assert answer.get_json() == {"answered_by": "frontier-2", "asked_for": "frontier-2"}
    assert client.post("/v1/models/frontier-2/chat").status_code == 401
    assert client.post("/v1/models/nonesuch/chat",
                       headers={"Authorization": f"Bearer {token}"}).status_code == 403


def test_the_flask_decorator_checks_proofs(sdk, bound, key, sdk_clock):
    app = Flask("models")

    @app.post("/v1/models/<model>/chat")
    @require_entitlement(sdk)
    def chat(model: str):
        return {"answered_by": g.entitlements.model}

    client = app.test_client()
    url = "http://localhost/v1/models/frontier-2/chat"
    proof = key.proof("POST", url, now=sdk_clock.time(), token=bound)
    answer = client.post(url, headers={"Authorization": f"DPoP {bound}", "DPoP": proof})
    assert answer.get_json() == {"answered_by": "frontier-2"}
    replay = client.post(url, headers={"Authorization": f"DPoP {bound}", "DPoP": proof})
    assert (replay.status_code, replay.get_json()["reason"]) == (401, "dpop_replayed")
    as_bearer = client.post(url, headers={"Authorization": f"Bearer {bound}"})
    assert as_bearer.get_json()["reason"] == "dpop_bound_token_as_bearer"
