import sys

import click

from ..audit import service as audit
from ..audit.schemas import AuditEventSchema, ChainReportSchema
from .context import CliContext, emit, json_option, pass_cli


@click.group("audit")
def command() -> None:
    """The audit log."""


@command.command("list")
@click.option("--action", default=None, help="Only this action, e.g. grant.issued.")
@click.option("--target", default=None, help="Only events about this id.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@json_option
@pass_cli
def list_command(cli: CliContext, action: str | None, target: str | None, limit: int,
                 as_json: bool) -> None:
    """The newest events first."""
    with cli.transaction() as session:
        events = audit.list_events(session, action=action, target=target, limit=limit)
        data = AuditEventSchema(many=True).dump(events)
    human = "\n".join(
        f"{e['seq']:>6} {e['at']} {e['actor']:24} {e['action']:26} {e['outcome']:7} "
        f"{e['target'] or ''} {e['reason'] or ''}" for e in data) or "no events"
    emit(as_json, data, human)


@command.command("verify")
@json_option
@pass_cli
def verify_command(cli: CliContext, as_json: bool) -> None:
    """Check the hash chain from the first event to the head; exit 1 if broken."""
    with cli.transaction() as session:
        report = audit.verify_chain(session)
    human = (f"audit chain intact: {report.checked} events" if report.ok else
             f"audit chain BROKEN at event {report.broken_at}: {report.problem}")
    emit(as_json, ChainReportSchema().dump(report), human)
    if not report.ok:
        sys.exit(1)
