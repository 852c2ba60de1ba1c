"""/readyz says whether this instance can serve, and what stops it: the database and its
schema, the signing keys (loadable, a safe file mode), Redis when configured. /healthz stays
a liveness check through all of it."""

from __future__ import annotations

from sqlalchemy import text

from entitlements.base.migrations import current_revision


def ready(client) -> tuple[int, dict]:
    response = client.get("/readyz")
    assert response.headers["Cache-Control"] == "no-store"
    return response.status_code, response.get_json()


def test_ready_when_every_check_passes(client, db):
    status, body = ready(client)
    assert (status, body["status"]) == (200, "ready")
    assert body["checks"]["database"] == {"ok": True, "schema": current_revision(db.engine)}
    assert body["checks"]["signing_keys"]["ok"] is True
    assert len(body["checks"]["signing_keys"]["kids"]) == 1
    assert "redis" not in body["checks"]


def test_a_key_others_can_read_is_not_ready(client, keys_dir):
    key = next(keys_dir.glob("*.pem"))
    key.chmod(0o644)
    status, body = ready(client)
    assert (status, body["status"]) == (503, "not_ready")
    check = body["checks"]["signing_keys"]
    assert check["ok"] is False and "readable by other users" in check["error"]
    assert body["checks"]["database"]["ok"] is True
    assert client.get("/healthz").status_code == 200, "alive, only not ready"


def test_a_missing_key_is_not_ready(client, keys_dir):
    key = next(keys_dir.glob("*.pem"))
    key.unlink()
    status, body = ready(client)
    assert status == 503
    assert key.stem in body["checks"]["signing_keys"]["error"]


def test_a_schema_other_than_the_codes_is_not_ready(client, db):
    head = current_revision(db.engine)
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    try:
        status, body = ready(client)
    finally:
        with db.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :head"),
                               {"head": head})
    assert status == 503
    assert body["checks"]["database"] == {
        "ok": False, "error": f"schema at older, the code expects {head}; run: entitlements "
                              "db upgrade"}


def test_redis_is_checked_when_configured(make_app, settings):
    up = make_app(settings=settings.with_overrides(redis_url="redis://127.0.0.1:6379/15"))
    assert ready(up.test_client())[1]["checks"]["redis"] == {"ok": True}
    down = make_app(settings=settings.with_overrides(redis_url="redis://127.0.0.1:9/0"))
    status, body = ready(down.test_client())
    assert status == 503
    assert body["checks"]["redis"]["ok"] is False
