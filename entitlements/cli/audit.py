import sys
from datetime import datetime

import click

from ..audit import service as audit
from ..audit.schemas import AuditEventSchema, ChainReportSchema
from ..audit.targets import KINDS
from ..base.pages import MAX_LIMIT
from .context import CliContext, IsoTime, emit, json_option, pass_cli


@click.group("audit")
def command() -> None:
    """The audit log."""


@command.command("list")
@click.option("--since", type=IsoTime(with_date=True), default=None, help="From (included).")
@click.option("--until", type=IsoTime(with_date=True), default=None, help="Until (excluded).")
@click.option("--actor", default=None, help="Only this actor's, e.g. admin:alice.")
@click.option("--action", default=None, help="Only this action (grant.issued), or a prefix "
                                             "and * (policy.*).")
@click.option("--org", "organization_id", default=None,
              help="Only events about this organization (its clients, persons, tokens...).")
@click.option("--target", default=None, help="Only events acting on this id.")
@click.option("--kind", "target_kind", type=click.Choice(KINDS), default=None,
              help="Only events acting on this kind of thing.")
@click.option("--outcome", type=click.Choice(("success", "failure")), default=None)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@json_option
@pass_cli
def list_command(cli: CliContext, since: datetime | None, until: datetime | None,
                 actor: str | None, action: str | None, organization_id: str | None,
                 target: str | None, target_kind: str | None, outcome: str | None, limit: int,
                 as_json: bool) -> None:
    """The newest events first, across every stream."""
    query = audit.EventQuery(since=since, until=until, actor=actor, action=action,
                             target=target, target_kind=target_kind,
                             organization_id=organization_id, outcome=outcome)
    events, cursor = [], None
    with cli.transaction() as session:
        while len(events) < limit:
            page = audit.search_events(session, query, cursor=cursor,
                                       limit=min(limit - len(events), MAX_LIMIT))
            events += AuditEventSchema(many=True).dump(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
    data = events
    human = "\n".join(
        f"{e['at']} {e['actor']:24} {e['action']:26} {e['outcome']:7} "
        f"{e['target_kind'] or ''}:{e['target'] or ''} {e['reason'] or ''}"
        for e in data) or "no events"
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
