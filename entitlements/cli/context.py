"""What every command needs, built on first use: settings, database, clock, actor."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from ..base.actor import Actor
from ..base.clock import SystemClock
from ..base.db import Database
from ..base.errors import InvalidInput
from ..base.fields import in_utc_range
from ..base.settings import Settings, load_settings
from ..clients.service import load_jwks_file
from ..policy.approvals import ApprovalRule
from ..policy.schemas import PolicyChangeRequestSchema
from ..policy.service import ON_PENDING
from ..reports import anchors as checkpoint_anchors
from ..reports.anchors import Anchor
from ..signing import service as signing
from ..signing.keyring import KeyRingCache
from ..signing.keystore import FileKeyStore


class CliContext:
    def __init__(self, actor: str | None) -> None:
        self._actor = actor
        self.clock = SystemClock()

    @cached_property
    def settings(self) -> Settings:
        return load_settings()

    @cached_property
    def db(self) -> Database:
        from ..base.migrations import require_current_schema  # alembic: only when used

        database = Database(self.settings.database_url)
        require_current_schema(database.engine, self.settings.database_url)
        return database

    @cached_property
    def key_ring(self) -> KeyRingCache:
        """The signing keys, as the service loads them (reports and checkpoints are signed
        with the token key)."""
        settings = self.settings
        with self.transaction() as session:  # as the service's first start does
            signing.ensure_signing_key(session, self.key_store, self.actor(),
                                       settings.signing_alg)
        return KeyRingCache(signing.ring_loader(self.db, self.key_store, settings.max_token_ttl,
                                                settings.signing_alg))

    @cached_property
    def anchors(self) -> list[Anchor]:
        """Where audit checkpoints are copied outside the database."""
        return checkpoint_anchors.configured(self.settings)

    @cached_property
    def approval_rule(self) -> ApprovalRule:
        return ApprovalRule.of(self.settings.two_person_policy)

    @cached_property
    def key_store(self) -> FileKeyStore:
        return FileKeyStore(self.settings.keys_dir, self.settings.keys_passphrase)

    def actor(self) -> Actor:
        name = self._actor or f"cli:{_user()}"
        return Actor(name, self.clock.now())

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.db.transaction() as session:
            yield session


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def read_jwks_file(path: Path) -> dict[str, Any]:
    """A JWKS from a file named on the command line; unreadable or bad JSON is InvalidInput."""
    try:
        text = path.read_text()
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}") from None
    return load_jwks_file(text)


def emit(as_json: bool, data: Any, human: str) -> None:
    """Print ``data`` as JSON for scripts, or ``human`` for people."""
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str) if as_json else human)


def emit_waiting(as_json: bool, request: Any) -> None:
    """A policy change that waits for a second admin: the request, and how to approve it."""
    data = PolicyChangeRequestSchema().dump(request)
    emit(as_json, {"approval": data},
         f"{data['action']} waits for a second admin's approval (request {data['id']}): "
         f"entitlements --actor <another admin> policy approve {data['id']} --reason ...")


class IsoTime(click.DateTime):
    """An ISO 8601 time with its offset (``--with-date`` also a plain date, at midnight UTC),
    refused when it does not exist in UTC."""

    def __init__(self, with_date: bool = False) -> None:
        super().__init__(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z",
                          "%Y-%m-%dT%H:%M%z", *(["%Y-%m-%d"] if with_date else [])])

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> datetime:
        moment = super().convert(value, param, ctx)
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        try:
            return in_utc_range(moment, ValueError)
        except ValueError as error:
            self.fail(str(error), param, ctx)


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
on_pending_option = click.option(
    "--on-pending", type=click.Choice(ON_PENDING), default=None,
    help="Activations scheduled after this one would replace it when due: keep or cancel "
         "them (required when there are any).")
pass_cli = click.make_pass_decorator(CliContext)
