"""/healthz: liveness (the process answers). /readyz: readiness, what a load balancer asks
before it sends traffic: the database answers and holds the schema this code expects, every
key that signs or will loads from the key store with a safe file mode, and Redis answers when
it is configured. Its JSON says which check failed and why; 503 until all pass."""

from __future__ import annotations

from functools import cache
from typing import Any

import redis
from flask import Response, abort, jsonify
from sqlalchemy.exc import SQLAlchemyError

from .. import __version__
from ..base.errors import ConfigError
from ..base.metrics import exposition
from ..base.migrations import current_revision, head_revision
from ..signing import service as signing
from .errors import Family, FamilyBlueprint
from .services import services

blueprint = FamilyBlueprint("health", __name__, family=Family.PROBLEM)
Check = dict[str, Any]


@blueprint.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok", version=__version__)


@blueprint.get("/metrics")
def metrics() -> Response:
    """Prometheus' text format; 404 when ENTITLEMENTS_METRICS is off."""
    if not services().settings.metrics:
        abort(404)
    body, content_type = exposition()
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})


@blueprint.get("/readyz")
def readyz() -> tuple[Response, int]:
    checks = {"database": _database(), "signing_keys": _signing_keys()}
    if services().settings.redis_url:
        checks["redis"] = _redis(services().settings.redis_url)
    ready = all(check["ok"] for check in checks.values())
    response = jsonify(status="ready" if ready else "not_ready", checks=checks)
    response.headers["Cache-Control"] = "no-store"
    return response, 200 if ready else 503


def _database() -> Check:
    found = services()
    try:
        current = current_revision(found.db.engine)
    except SQLAlchemyError as error:
        return {"ok": False, "error": f"unreachable ({type(error).__name__})"}
    expected = _head(found.settings.database_url)
    if current != expected:
        return {"ok": False, "error": f"schema at {current}, the code expects {expected}; "
                                      "run: entitlements db upgrade"}
    return {"ok": True, "schema": current}


def _signing_keys() -> Check:
    found = services()
    try:
        with found.db.sessions() as session:
            kids = signing.check_key_store(session, found.key_store, found.clock.now())
    except ConfigError as error:
        return {"ok": False, "error": error.message}
    except SQLAlchemyError as error:
        return {"ok": False, "error": f"cannot list the keys ({type(error).__name__})"}
    if not kids:
        return {"ok": False, "error": "no key signs; run: entitlements keys rotate --now"}
    return {"ok": True, "kids": kids}


def _redis(url: str) -> Check:
    try:
        _client(url).ping()
    except redis.RedisError as error:
        return {"ok": False, "error": f"unreachable ({type(error).__name__})"}
    return {"ok": True}


@cache
def _head(url: str) -> str | None:
    return head_revision(url)


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
