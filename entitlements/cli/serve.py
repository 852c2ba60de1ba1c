"""``entitlements serve``: granian (a Rust HTTP server) in front of the application factory.

Slow clients are bounded where they arrive: granian drops a connection whose headers take
longer than ``ENTITLEMENTS_HEADER_TIMEOUT``, and the ASGI front (``web.asgi``) reads each
body, at most ``ENTITLEMENTS_MAX_BODY_BYTES`` within ``ENTITLEMENTS_BODY_TIMEOUT``, before a
thread runs the request; a thousand trickling clients cost coroutines, not threads. Checks
run before the workers start: the schema, and a key store that holds every key that signs or
will, each readable by this user only.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from ..base.actor import SYSTEM_ACTOR, Actor
from ..signing import service as signing
from .context import CliContext, pass_cli

#: prometheus-client's variable (not imported here: it must be set before the client is).
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
#: The application factory granian's workers call.
TARGET = "entitlements.app:create_asgi_app"
#: A request line and headers larger than this are a 431 (or 414) from granian itself.
MAX_HEAD_BYTES = 64 * 1024


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes.")
@click.option("--threads", default=None, type=click.IntRange(1, 256),
              help="Request threads per worker (ENTITLEMENTS_SERVER_THREADS, 8).")
@pass_cli
def command(cli: CliContext, host: str, port: int, workers: int, threads: int | None) -> None:
    """Serve the API (the checks pass first, then the workers start)."""
    if not os.environ.get("ENTITLEMENTS_ISSUER") and host in ("127.0.0.1", "localhost",
                                                              "0.0.0.0"):  # noqa: S104
        os.environ["ENTITLEMENTS_ISSUER"] = f"http://127.0.0.1:{port}"  # the port it listens on
    if threads is not None:
        os.environ["ENTITLEMENTS_SERVER_THREADS"] = str(threads)
    settings = cli.settings
    with cli.transaction() as session:
        signing.ensure_signing_key(session, cli.key_store, Actor(SYSTEM_ACTOR, cli.clock.now()),
                                   settings.signing_alg)
        signing.check_key_store(session, cli.key_store, cli.clock.now())
    cli.db.dispose()
    click.echo(f"issuer: {settings.issuer}  (listening on http://{host}:{port})")
    with _metrics_folder():
        _granian(host, port, workers, settings.header_timeout, settings.log_level).serve()


@contextmanager
def _metrics_folder() -> Iterator[None]:
    """Where the workers' metrics meet (prometheus-client's multiprocess mode): the
    operator's PROMETHEUS_MULTIPROC_DIR, emptied of an earlier run's samples, or a folder of
    this instance's own, removed when it stops. Set before any worker imports the client."""
    given = os.environ.get(MULTIPROCESS_DIR)
    folder = Path(given) if given else Path(tempfile.mkdtemp(prefix="entitlements-metrics-"))
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROCESS_DIR] = str(folder)
    try:
        yield
    finally:
        if not given:
            shutil.rmtree(folder, ignore_errors=True)


def _granian(host: str, port: int, workers: int, header_timeout: float, log_level: str):
    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    return Granian(TARGET, factory=True, address=host, port=port, workers=workers,
                   interface=Interfaces.ASGI, websockets=False, respawn_failed_workers=True,
                   http1_settings=HTTP1Settings(header_read_timeout=int(header_timeout * 1000),
                                                max_buffer_size=MAX_HEAD_BYTES),
                   log_level=LogLevels(log_level.lower()), workers_kill_timeout=10)
