"""Shared fixtures: every database-backed test runs on SQLite and on PostgreSQL.

Each test gets an empty, migrated database: SQLite copies a migrated template
file; PostgreSQL migrates once per session, then truncates every table and
restores the seed rows (tiers, audit head) before each test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, insert, select, text

from entitlements.app import create_app
from entitlements.base.clock import FrozenClock
from entitlements.base.db import Database
from entitlements.base.migrations import upgrade
from entitlements.base.settings import load_settings, normalize_database_url
from entitlements.cli import context as cli_context
from entitlements.models import Base
from tests.support.factories import Admin, Partner
from tests.support.live import LiveServer, free_port
from tests.support.markers import overrides
from tests.support.signin import APP_REDIRECT
from tests.support.upstream import UpstreamProvider

#: Each pytest-xdist worker has a PostgreSQL database of its own: ``test_gw0``, ``test_gw1``...
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
BASE_POSTGRES_URL = normalize_database_url(
    os.environ.get("ENTITLEMENTS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
)
POSTGRES_URL = f"{BASE_POSTGRES_URL}_{WORKER}" if WORKER else BASE_POSTGRES_URL
#: ``./scripts/test --fast`` sets ENTITLEMENTS_TEST_BACKENDS=sqlite; CI runs both.
BACKENDS = os.environ.get("ENTITLEMENTS_TEST_BACKENDS", "sqlite,postgresql").split(",")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_seed() -> dict[str, list[dict]]:
    _create_worker_database()
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    upgrade(POSTGRES_URL)
    engine = create_engine(POSTGRES_URL)
    with engine.connect() as connection:
        seed = {t.name: [dict(r._mapping) for r in connection.execute(select(t))]
                for t in Base.metadata.sorted_tables}
    engine.dispose()
    return seed


def _create_worker_database() -> None:
    if POSTGRES_URL == BASE_POSTGRES_URL:
        return
    name = POSTGRES_URL.rsplit("/", 1)[1]
    engine = create_engine(BASE_POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                             {"name": name}) is None:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "db.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    _reset_postgres(request.getfixturevalue("postgres_seed"))
    return POSTGRES_URL


def _reset_postgres(seed: dict[str, list[dict]]) -> None:
    engine = create_engine(POSTGRES_URL)
    names = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        for table in Base.metadata.sorted_tables:
            if seed.get(table.name):
                connection.execute(insert(table), seed[table.name])
                _advance_serial(connection, table)
    engine.dispose()


def _advance_serial(connection, table) -> None:
    """Seed rows carry explicit ids: move a serial id's sequence past them."""
    serial = [c for c in table.primary_key.columns if c.autoincrement is True]
    if serial:
        name = serial[0].name
        connection.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{name}'), "
            f"(SELECT max({name}) FROM {table.name}))"))


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
def settings(request: pytest.FixtureRequest, db_url: str, keys_dir: Path):
    return load_settings({}, database_url=db_url, keys_dir=str(keys_dir), client_cache_ttl=0,
                         policy_cache_ttl=0, **overrides(request))


@pytest.fixture
def app(settings, clock: FrozenClock, db: Database):
    application = create_app(settings, clock=clock, db=db)
    yield application
    application.extensions["entitlements"].close()


@pytest.fixture
def make_app(settings, clock: FrozenClock, db: Database):
    """Another app on the test database (``create_app``'s keyword arguments, ``settings``
    included), closed after."""
    made = []

    def make(**options):
        chosen = options.pop("settings", settings)
        made.append(create_app(chosen, **{"clock": clock, "db": db, **options}))
        return made[-1]

    yield make
    for application in made:
        application.extensions["entitlements"].close()


@pytest.fixture
def databases(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Database]]:
    """Every engine the CLI opens (the real Database class, remembered), disposed after."""
    opened: list[Database] = []

    class Remembered(Database):
        def __init__(self, url: str, **kwargs: Any) -> None:
            super().__init__(url, **kwargs)
            opened.append(self)

    monkeypatch.setattr(cli_context, "Database", Remembered)
    yield opened
    for database in opened:
        database.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def admin(db: Database, clock: FrozenClock, keys_dir: Path) -> Admin:
    return Admin(db, clock, keys_dir)


@pytest.fixture
def partner(request: pytest.FixtureRequest, admin: Admin) -> Partner:
    """A verified organization with the ``public`` tier and a client_secret_basic client,
    behind the default gateway; ``@pytest.mark.partner(name=..., tiers=..., trust=...)`` on
    a test or module says otherwise (``trust`` is raised by two admins)."""
    marker = request.node.get_closest_marker("partner")
    options = dict(marker.kwargs) if marker else {}
    trust = options.pop("trust", None)
    admin.gateway()
    made = admin.partner(**options)
    if trust:
        admin.raise_trust(made.org_id, trust)
    return made


@pytest.fixture
def live_server(request: pytest.FixtureRequest, db_url: str, keys_dir: Path,
                clock: FrozenClock, db: Database) -> Iterator[LiveServer]:
    port = free_port()
    live_settings = load_settings({}, database_url=db_url, keys_dir=str(keys_dir),
                                  issuer=f"http://127.0.0.1:{port}", client_cache_ttl=0,
                                  policy_cache_ttl=0, **overrides(request))
    app = create_app(live_settings, clock=clock, db=db)
    with LiveServer(app, port) as server:
        yield server
    app.extensions["entitlements"].close()


@pytest.fixture
def upstream(clock: FrozenClock) -> Iterator[UpstreamProvider]:
    """An organization's own OpenID provider on loopback (people sign in through it)."""
    with UpstreamProvider(clock) as provider:
        yield provider


@pytest.fixture
def acme_org(admin: Admin, live_server: LiveServer, upstream: UpstreamProvider) -> str:
    """Acme Labs: verified, tier public, domain acme.example, people signing in upstream."""
    admin.gateway()
    org_id = admin.org("Acme Labs", ("public",))
    admin.verified_domain(org_id, "acme.example")
    admin.sign_in_provider(org_id, upstream, live_server.url + "/signin/callback")
    return org_id


@pytest.fixture
def web_app(admin: Admin, acme_org: str) -> Partner:
    """Acme's web app: a confidential client of the authorization code grant."""
    return admin.client(acme_org, grant_types=["authorization_code"],
                        redirect_uris=[APP_REDIRECT])
