import sys
from datetime import datetime
from pathlib import Path

import click
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..audit.schemas import AuditEventSchema, ChainReportSchema, CheckpointReportSchema
from ..audit.targets import KINDS
from ..base.pages import every
from ..reports import checkpoints
from ..signing.documents import store_keys
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
    with cli.transaction() as session:
        data = AuditEventSchema(many=True).dump(
            every(audit.search_events, session, query, at_most=limit))
    human = "\n".join(
        f"{e['at']} {e['actor']:24} {e['action']:26} {e['outcome']:7} "
        f"{e['target_kind'] or ''}:{e['target'] or ''} {e['reason'] or ''}"
        for e in data) or "no events"
    emit(as_json, data, human)


@command.command("verify")
@click.option("--checkpoints", "with_checkpoints", is_flag=True,
              help="Also check the tips every signed checkpoint states (the database's, and "
                   "the copies in ENTITLEMENTS_CHECKPOINT_DIR and _BUCKET): a rewrite of the "
                   "database since one is found out.")
@click.option("--from", "source", type=click.Path(exists=True, path_type=Path), default=None,
              help="Checkpoints kept elsewhere: a directory of .jws files, one file, or the "
                   "JSON /audit/checkpoints answers (with --checkpoints).")
@json_option
@pass_cli
def verify_command(cli: CliContext, with_checkpoints: bool, source: Path | None,
                   as_json: bool) -> None:
    """Check every hash chain from its first event to its tip; exit 1 if broken."""
    with cli.transaction() as session:
        report = audit.verify_chain(session)
        data = ChainReportSchema().dump(report)
        lines = [f"audit chain intact: {report.checked} events" if report.ok else
                 f"audit chain BROKEN in {report.stream} at event {report.broken_at}: "
                 f"{report.problem}"]
        if with_checkpoints:
            found = checkpoints.verify(session, _checkpoints(cli, session, source),
                                       store_keys(cli.key_store))
            data["checkpoints"] = CheckpointReportSchema().dump(found)
            data["ok"] = report.ok and found.ok
            said = "REWRITTEN SINCE" if found.checked else "NONE CHECKED"
            lines.append(f"{found.checked} signed checkpoint(s) checked: " + (
                "every tip they state is in place" if found.ok else f"{said}:\n  "
                + "\n  ".join(found.problems)))
    emit(as_json, data, "\n".join(lines))
    if not data["ok"]:
        sys.exit(1)


@command.command("checkpoint")
@json_option
@pass_cli
def checkpoint_command(cli: CliContext, as_json: bool) -> None:
    """Make this period's signed checkpoint of every chain's tip, if none is made yet (the
    serving processes do it on their own; a cron job can call this when none serves)."""
    settings = cli.settings
    data = checkpoints.checkpoint_now(cli.db, cli.key_ring.get(), issuer=settings.issuer,
                                      now=cli.clock.now(),
                                      interval=settings.checkpoint_interval,
                                      places=cli.anchors)
    lines = [f"checkpoint of {data['streams']} stream tips made" if data["made"] else
             "this period's checkpoint exists already",
             *(f"copy at {where}: {outcome}" for where, outcome in data["copies"].items())]
    emit(as_json, data, "\n".join(lines))
    if any(outcome not in ("written", "present") for outcome in data["copies"].values()):
        sys.exit(1)


def _checkpoints(cli: CliContext, session: Session, source: Path | None) -> list[str]:
    if source is not None:
        return checkpoints.read_files(source)
    return checkpoints.known(session, cli.anchors)
