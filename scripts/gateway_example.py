#!/usr/bin/env python3
"""Two stand-in models behind the gateway SDK, end to end on loopback.

Starts a throwaway entitlement service, puts a restricted model (frontier-2) and its
fallback (base-1) behind ``WsgiMiddleware``, and sends the same request before and after
an admin suspends the restricted tier, then with a forged token:

    .venv/bin/python scripts/gateway_example.py
"""

from __future__ import annotations

import logging
import threading
import time

import requests
from _sandbox import GATEWAY, Sandbox, free_port
from werkzeug.serving import make_server

from entitlements.gateway.gateway import Gateway
from entitlements.gateway.integrations import DECISION_KEY, WsgiMiddleware

MODELS = {
    "frontier-2": lambda prompt: f"[frontier-2, restricted] a careful answer to {prompt!r}",
    "base-1": lambda prompt: f"[base-1, public] a simpler answer to {prompt!r}",
}


def models(environ, start_response):
    """The model server: answers with whichever model the gateway routed to."""
    decision = environ[DECISION_KEY]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    prompt = environ["wsgi.input"].read(length).decode()
    body = MODELS[decision.model](prompt).encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("X-Served-By", decision.model)])
    return [body]


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with Sandbox() as service:
        client_id, secret = service.partner()
        gateway = Gateway(service.url, GATEWAY, poll_interval=0.5).start()
        port = free_port()
        server = make_server("127.0.0.1", port, WsgiMiddleware(models, gateway))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{port}/v1/chat"
        token = service.token(client_id, secret)

        def ask(label: str, bearer: str) -> None:
            answer = requests.post(url, data="why is the sky blue?", timeout=10, headers={
                "Authorization": f"Bearer {bearer}", "X-Entitlements-Model": "frontier-2"})
            print(f"{label:32} -> {answer.status_code} {answer.text}")

        try:
            ask("asking for frontier-2", token)
            service.set_policy("suspend restricted",
                               patch={"tiers": {"restricted": {"status": "suspended"}}})
            time.sleep(1.5)  # the service's 0.5 s policy cache, then the gateway's next poll
            ask("after the tier is suspended", token)
            ask("with a forged token", token[:-6] + "AAAAAA")
        finally:
            server.shutdown()
            gateway.close()


if __name__ == "__main__":
    main()
