"""``entitlements notices``: what was told outside the service (break-glass, malicious
activity), and delivering what is due (the serving processes do it every minute)."""

from __future__ import annotations

import click

from ..base.pages import every
from ..notices import service as notices
from ..notices.schemas import NoticeSchema
from ..operations.notices import NoticeSender
from .context import CliContext, emit, json_option, pass_cli


@click.group("notices")
def command() -> None:
    """Notices to people outside the service."""


@command.command("list")
@json_option
@pass_cli
def list_command(cli: CliContext, as_json: bool) -> None:
    """Notices, newest first, and whether each was delivered."""
    with cli.transaction() as session:
        data = NoticeSchema(many=True).dump(every(notices.list_notices, session))
    emit(as_json, data, "\n".join(
        f"{n['id']:>5} {n['kind']:22} {n['subject_id']:28} "
        f"{'delivered' if n['delivered_at'] else (n['last_error'] or 'waiting')}"
        for n in data) or "no notices")


@command.command("deliver")
@json_option
@pass_cli
def deliver_command(cli: CliContext, as_json: bool) -> None:
    """Send the notices that are due now."""
    sender = NoticeSender(cli.db, cli.key_ring, cli.clock, cli.settings.issuer)
    try:
        done = sender.deliver_due()
    finally:
        sender.close()
    data = [delivery.as_json() for delivery in done]
    emit(as_json, data, "\n".join(f"notice {d['notice']}: "
                                  f"{'delivered' if d['delivered'] else d['error']}"
                                  for d in data) or "nothing is due")
