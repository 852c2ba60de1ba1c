"""Put the decision in front of a model endpoint: a WSGI middleware, an ASGI middleware and
a Flask decorator. Each reads the token (``Bearer`` or ``DPoP``, with the request's DPoP
proofs, method and URL) and the requested model, asks the gateway, and either answers
401 / 403 itself or passes the request on with the model to use."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from functools import wraps
from typing import Any
from urllib.parse import quote
from wsgiref.util import request_uri

from ..kernel import dpop
from .decisions import GatewayDecision
from .gateway import Gateway

MODEL_HEADER = "X-Entitlements-Model"
DECISION_KEY = "entitlements.decision"


def bearer(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


#: Token denials whose ``WWW-Authenticate`` challenge is Bearer's, not DPoP's.
_BEARER_CHALLENGED = frozenset({"dpop_scheme_unbound_token"})


def _challenge(decision: GatewayDecision, algorithms: tuple[str, ...], nonce: str | None
               ) -> tuple[str, list[tuple[str, str]]]:
    """The OAuth error and the challenge headers of a 401 (RFC 6750 3, RFC 9449 7.1)."""
    reason = decision.reason or ""
    if not decision.proof_problem or reason in _BEARER_CHALLENGED:
        return "invalid_token", [
            ("WWW-Authenticate", f'Bearer error="invalid_token", error_description="{reason}"'),
            ("WWW-Authenticate", dpop.challenge(algorithms))]
    if reason in dpop.NONCE_REASONS and nonce is not None:
        return "use_dpop_nonce", [("WWW-Authenticate",
                                   dpop.challenge(algorithms, "use_dpop_nonce", reason)),
                                  (dpop.NONCE_HEADER, nonce)]
    error = "invalid_token" if reason == "dpop_bound_token_as_bearer" else "invalid_dpop_proof"
    return error, [("WWW-Authenticate", dpop.challenge(algorithms, error, reason))]


def refusal(decision: GatewayDecision, algorithms: tuple[str, ...] = dpop.ALGORITHMS,
            nonce: str | None = None) -> tuple[int, list[tuple[str, str]], bytes]:
    """The HTTP answer to a deny: 401 with WWW-Authenticate for a bad token or proof (and
    ``DPoP-Nonce`` when the gateway wants its nonce), 503 with Retry-After while the
    issuer's documents cannot be had, else 403."""
    challenge: list[tuple[str, str]] = []
    if decision.token_problem:
        error, challenge = _challenge(decision, algorithms, nonce)
    else:
        error = "temporarily_unavailable" if decision.unavailable else "forbidden"
    body = json.dumps({"error": error, "reason": decision.reason,
                       "model": decision.requested}).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
               ("X-Entitlements-Decision", decision.outcome)]
    if decision.reason:  # nginx's auth_request passes headers on, never the body
        headers.append(("X-Entitlements-Reason", decision.reason))
    if decision.unavailable:
        return 503, [*headers, ("Retry-After", "1")], body
    if decision.token_problem:
        return 401, [*headers, *challenge], body
    return 403, headers, body


def refusal_by(gateway: Gateway, decision: GatewayDecision
               ) -> tuple[int, list[tuple[str, str]], bytes]:
    """``refusal`` with the gateway's DPoP algorithms and its current nonce."""
    return refusal(decision, gateway.proofs.algorithms, gateway.dpop_nonce())


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
        decision = self.gateway.decide_request(
            self.model_of(environ) or "", authorization=environ.get("HTTP_AUTHORIZATION"),
            request=lambda: ([environ["HTTP_DPOP"]] if "HTTP_DPOP" in environ else [],
                             environ.get("REQUEST_METHOD", "GET"),
                             request_uri(environ, include_query=False)))
        if not decision.allowed:
            status, headers, body = refusal_by(self.gateway, decision)
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
        decision = self.gateway.decide_request(
            self.model_of(scope) or "", authorization=_scope_header(scope, "Authorization"),
            request=lambda: (_scope_headers(scope, "DPoP"), scope.get("method", "GET"),
                             _scope_url(scope)))
        if not decision.allowed:
            status, headers, body = refusal_by(self.gateway, decision)
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
    found = _scope_headers(scope, name)
    return found[0] if found else None


def _scope_headers(scope: dict[str, Any], name: str) -> list[str]:
    wanted = name.lower().encode()
    return [value.decode("latin-1") for key, value in scope.get("headers", ())
            if key.lower() == wanted]


def _scope_url(scope: dict[str, Any]) -> str:
    """The request's URL without its query (ASGI: scheme, Host, and the raw path, else the
    root path and path)."""
    host = _scope_header(scope, "Host")
    if host is None and scope.get("server"):
        host = "{}:{}".format(*scope["server"])
    raw = scope.get("raw_path")  # the path as it came, percent-escapes and all
    path = raw.decode("latin-1") if raw else quote(scope.get("root_path", "") +
                                                   scope.get("path", "/"))
    return f"{scope.get('scheme', 'http')}://{host or 'localhost'}{path}"


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
            decision = gateway.decide_request(
                model or "", authorization=request.headers.get("Authorization"),
                request=lambda: (request.headers.getlist("DPoP"), request.method,
                                 request.base_url))
            if not decision.allowed:
                status, headers, body = refusal_by(gateway, decision)
                return Response(body, status=status, headers=headers)
            g.entitlements = decision
            return view(*args, **kwargs)

        return wrapper

    return decorate
