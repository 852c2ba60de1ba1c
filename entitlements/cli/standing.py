"""``suspend`` and ``reinstate`` for a registered party (an attestation issuer, an identity
provider): the same two commands over each one's status operation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from marshmallow import Schema

from .context import CliContext, emit, json_option, pass_cli


def add_standing_commands(group: click.Group, *, argument: str, noun: str,
                          set_status: Callable[..., Any], schema: type[Schema],
                          suspend_help: str, reinstate_help: str) -> None:
    for name, status, done, help_text in (("suspend", "suspended", "suspended", suspend_help),
                                          ("reinstate", "active", "reinstated", reinstate_help)):
        group.command(name, help=help_text)(_status_command(argument, noun, set_status, schema,
                                                            status, done))


def _status_command(argument: str, noun: str, set_status: Callable[..., Any],
                    schema: type[Schema], status: str, done: str) -> Callable[..., None]:
    @click.argument(argument)
    @click.option("--reason", required=True)
    @json_option
    @pass_cli
    def command(cli: CliContext, reason: str, as_json: bool, **ids: str) -> None:
        [row_id] = ids.values()
        with cli.transaction() as session:
            data = schema().dump(set_status(session, cli.actor(), row_id, status, reason))
        emit(as_json, data, f"{noun} {row_id} {done}")
    return command
