"""``entitlements serve``: gunicorn in front of the app factory."""

from __future__ import annotations

from typing import Any

import click
from gunicorn.app.base import BaseApplication

from ..app import create_app
from ..base.actor import SYSTEM_ACTOR, Actor
from ..signing import service as signing
from .context import CliContext, pass_cli


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self._options.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        return create_app()


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Threads per worker (1: gunicorn's sync worker).")
@pass_cli
def command(cli: CliContext, host: str, port: int, workers: int, threads: int) -> None:
    """Serve the API with gunicorn (workers fork after the checks pass)."""
    settings = cli.settings
    with cli.transaction() as session:
        signing.ensure_signing_key(session, cli.key_store, Actor(SYSTEM_ACTOR, cli.clock.now()),
                                   settings.signing_alg)
    cli.db.dispose()
    click.echo(f"issuer: {settings.issuer}  (listening on http://{host}:{port})")
    _Gunicorn({
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "accesslog": None,
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        "graceful_timeout": 10,
        "keepalive": 5,
    }).run()
