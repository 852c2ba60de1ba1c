"""What every request leaves behind: a request id (``X-Request-Id``, the caller's when it is
well formed, else a new one; echoed in the answer and on every log line), its latency in the
``entitlements_request_seconds`` histogram, a refusal count by reason for a 4xx or 5xx, and,
with ``ENTITLEMENTS_ACCESS_LOG=true``, one access log line."""

from __future__ import annotations

import logging
import re
import secrets
from time import perf_counter

from flask import Flask, Response, g, has_request_context, request

from ..base.logs import ACCESS
from ..base.metrics import REFUSED, REQUEST_SECONDS

REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
REASON = re.compile(r"[a-z][a-z0-9_]{0,39}")
access_log = logging.getLogger(ACCESS)


def register(app: Flask, *, access: bool) -> None:
    app.before_request(_start)
    app.after_request(_finish_logged if access else _finish)


def current_request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


def _start() -> None:
    g.started = perf_counter()
    offered = request.headers.get("X-Request-Id", "")
    g.request_id = offered if REQUEST_ID.fullmatch(offered) else secrets.token_hex(8)


def _finish(response: Response) -> Response:
    elapsed = perf_counter() - g.get("started", perf_counter())
    endpoint = request.endpoint or "unmatched"
    method = request.method if request.method in METHODS else "other"
    REQUEST_SECONDS.labels(endpoint, method).observe(elapsed)
    if response.status_code >= 400:
        REFUSED.labels(endpoint, _reason(response)).inc()
    if "request_id" not in g:  # refused before ``_start`` ran (another hook's 4xx)
        _start()
    response.headers["X-Request-Id"] = g.request_id
    g.elapsed = elapsed
    return response


def _finish_logged(response: Response) -> Response:
    response = _finish(response)
    access_log.info("%s %s %s %.1fms %sB", request.method if request.method in METHODS
                    else "other", request.path[:200], response.status_code,
                    g.elapsed * 1000, response.calculate_content_length() or 0)
    return response


def _reason(response: Response) -> str:
    """The answer's error code (OAuth ``error``, a problem's type, an SDK-style ``reason``),
    from a bounded set; the status otherwise."""
    body = response.get_json(silent=True) if response.is_json else None
    if isinstance(body, dict):
        code = body.get("reason") or body.get("error") or str(body.get("type", "")).rsplit(
            ":", 1)[-1]
        if isinstance(code, str) and REASON.fullmatch(code):
            return code
    return str(response.status_code)
