"""Put the decision in front of a model endpoint: a WSGI middleware, an ASGI middleware and
a Flask decorator. Each reads the bearer token and the requested model, asks the gateway,
and either answers 401 / 403 itself or passes the request on with the model to use."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from functools import wraps
from typing import Any

from .decisions import GatewayDecision
from .gateway import Gateway

MODEL_HEADER = "X-Entitlements-Model"
DECISION_KEY = "entitlements.decision"


def bearer(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def refusal(decision: GatewayDecision) -> tuple[int, list[tuple[str, str]], bytes]:
    """The HTTP answer to a deny: 401 with WWW-Authenticate for a bad token, 503 with
    Retry-After while the issuer's documents cannot be had, else 403."""
    error = ("invalid_token" if decision.token_problem else
             "temporarily_unavailable" if decision.unavailable else "forbidden")
    body = json.dumps({"error": error, "reason": decision.reason,
                       "model": decision.requested}).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
               ("X-Entitlements-Decision", decision.outcome)]
    if decision.reason:  # nginx's auth_request passes headers on, never the body
        headers.append(("X-Entitlements-Reason", decision.reason))
    if decision.unavailable:
        return 503, [*headers, ("Retry-After", "1")], body
    if decision.token_problem:
        headers.append(("WWW-Authenticate",
                        f'Bearer error="invalid_token", error_description="{decision.reason}"'))
        return 401, headers, body
    return 403, headers, body


def decision_headers(decision: GatewayDecision) -> list[tuple[str, str]]:
    """What an authorization service answers with: the model to use and why."""
    headers = [(MODEL_HEADER, decision.model or ""),
               ("X-Entitlements-Decision", decision.outcome)]
    if decision.reason:
        headers.append(("X-Entitlements-Reason", decision.reason))
    return headers


_STATUS_TEXT = {200: "200 OK", 401: "401 Unauthorized", 403: "403 Forbidden",
                503: "503 Service Unavailable"}


class WsgiMiddleware:
    """``environ[DECISION_KEY]`` is the decision; ``environ['HTTP_X_ENTITLEMENTS_MODEL']``
    the model to route to (the fallback included)."""

    def __init__(self, app: Callable, gateway: Gateway,
                 model_of: Callable[[dict[str, Any]], str | None] | None = None) -> None:
        self.app, self.gateway = app, gateway
        self.model_of = model_of or (lambda environ: environ.get("HTTP_X_ENTITLEMENTS_MODEL"))

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        decision = self.gateway.decide(bearer(environ.get("HTTP_AUTHORIZATION")),
                                       self.model_of(environ) or "")
        if not decision.allowed:
            status, headers, body = refusal(decision)
            start_response(_STATUS_TEXT[status], headers)
            return [body]
        environ[DECISION_KEY] = decision
        environ["HTTP_X_ENTITLEMENTS_MODEL"] = decision.model
        return self.app(environ, start_response)


class AsgiMiddleware:
    """``scope['state']['entitlements']`` holds the decision for HTTP requests."""

    def __init__(self, app: Callable, gateway: Gateway,
                 model_of: Callable[[dict[str, Any]], str | None] | None = None) -> None:
        self.app, self.gateway = app, gateway
        self.model_of = model_of or (lambda scope: _scope_header(scope, MODEL_HEADER))

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
                       send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        decision = self.gateway.decide(bearer(_scope_header(scope, "Authorization")),
                                       self.model_of(scope) or "")
        if not decision.allowed:
            status, headers, body = refusal(decision)
            await send({"type": "http.response.start", "status": status,
                        "headers": [(k.lower().encode(), v.encode()) for k, v in headers]})
            await send({"type": "http.response.body", "body": body})
            return
        scope.setdefault("state", {})["entitlements"] = decision
        name = MODEL_HEADER.lower().encode()
        scope["headers"] = [(k, v) for k, v in scope.get("headers", ()) if k.lower() != name]
        scope["headers"].append((name, (decision.model or "").encode()))
        await self.app(scope, receive, send)


def _scope_header(scope: dict[str, Any], name: str) -> str | None:
    wanted = name.lower().encode()
    for key, value in scope.get("headers", ()):
        if key.lower() == wanted:
            return value.decode("latin-1")
    return None


def require_entitlement(gateway: Gateway, model_of: Callable[[], str | None] | None = None
                        ) -> Callable:
    """A Flask view decorator; ``flask.g.entitlements`` holds the decision. Flask is
    imported only when a decorated view runs, so the SDK itself never loads it."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from flask import Response, g, request  # here: only Flask apps load Flask

            model = model_of() if model_of else (
                request.headers.get(MODEL_HEADER) or kwargs.get("model"))
            decision = gateway.decide(bearer(request.headers.get("Authorization")),
                                      model or "")
            if not decision.allowed:
                status, headers, body = refusal(decision)
                return Response(body, status=status, headers=headers)
            g.entitlements = decision
            return view(*args, **kwargs)

        return wrapper

    return decorate
