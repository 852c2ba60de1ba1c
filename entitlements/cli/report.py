"""``entitlements report``: export a signed report of an interval, check one offline, and
answer "who could use what at T"."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from ..base.errors import InvalidInput
from ..base.fetch import FetchFailed, get_bounded
from ..base.pages import every
from ..base.progress import Tee
from ..jobs import runner
from ..reports import export, verify, who_could
from ..reports import service as reports
from ..reports.schemas import ReportSchema
from .context import CliContext, IsoTime, emit, json_option, pass_cli
from .progress import progress

WHEN = IsoTime(with_date=True)


@click.group("report")
def command() -> None:
    """Signed reports of the audit log, and who could use what at a time."""


@command.command("export")
@click.option("--from", "starts_at", type=WHEN, required=True, help="From (included).")
@click.option("--to", "ends_at", type=WHEN, required=True, help="Until (excluded).")
@click.option("--out", "directory", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Where to write it (default: ENTITLEMENTS_REPORTS_DIR).")
@json_option
@pass_cli
def export_command(cli: CliContext, starts_at: datetime, ends_at: datetime,
                   directory: Path | None, as_json: bool) -> None:
    """Write the interval's events (JSONL) and their signed manifest."""
    writer = reports.Writer(cli.db, cli.key_ring, cli.clock, cli.settings.issuer,
                            directory or Path(cli.settings.reports_dir))
    with cli.transaction() as session:
        row = reports.request(session, cli.actor(), starts_at, ends_at)
    with progress("exporting", as_json) as bar:
        result = runner.run_here(cli.db, cli.clock, row.job_id,
                                 lambda job: writer.write(row.id, Tee(job, bar)))
    events, manifest = export.paths(writer.directory, row.id)
    emit(as_json, {**result, "file": str(events), "manifest": str(manifest)},
         f"{result['events']} events -> {events}\nmanifest (signed) -> {manifest}")


@command.command("verify")
@click.argument("events", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--manifest", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="Default: EVENTS.manifest.jws beside it.")
@click.option("--jwks", default=None,
              help="The issuer's JWKS: a file, or a URL (default: the service's, "
                   "ENTITLEMENTS_ISSUER/jwks.json).")
@json_option
@pass_cli
def verify_command(cli: CliContext, events: Path, manifest: Path | None, jwks: str | None,
                   as_json: bool) -> None:
    """Check a report offline: the manifest's signature, the file's hash, every event's
    hash and link, the counts. Exit 1 if anything is off."""
    manifest = manifest or events.with_name(events.name + ".manifest.jws")
    if not manifest.is_file():
        raise InvalidInput(f"no manifest at {manifest} (give --manifest)")
    keys = _jwks(jwks or cli.settings.issuer + "/jwks.json")
    result = verify.verify_report(events, manifest.read_text().strip(), keys)
    data = {"ok": result.ok, "events": result.events, "problems": result.problems,
            "more_problems": result.more, "report": result.manifest.get("report"),
            "from": result.manifest.get("from"), "to": result.manifest.get("to")}
    human = (f"report {data['report']} verified: {result.events} events from {data['from']} "
             f"to {data['to']}, signature, hashes and chain links intact" if result.ok else
             "report NOT verified:\n" + "\n".join(f"  {p}" for p in result.problems))
    emit(as_json, data, human)
    if not result.ok:
        sys.exit(1)


@command.command("list")
@json_option
@pass_cli
def list_command(cli: CliContext, as_json: bool) -> None:
    """Reports exported, newest first."""
    with cli.transaction() as session:
        data = ReportSchema(many=True).dump(every(reports.list_reports, session))
    emit(as_json, data, "\n".join(f"{r['id']}  {r['from']} .. {r['to']}  {r['events']} events"
                                  for r in data) or "no reports")


@command.command("who-could")
@click.option("--at", type=WHEN, required=True, help="The instant.")
@click.option("--org", "organization_id", default=None, help="Only this organization.")
@json_option
@pass_cli
def who_could_command(cli: CliContext, at: datetime, organization_id: str | None,
                      as_json: bool) -> None:
    """Every organization's and person's tiers at --at, rebuilt from history."""
    with cli.transaction() as session:
        who_could.check(session, at, organization_id, cli.clock.now())
    with progress("rebuilding", as_json) as tracker:
        data = who_could.tracked(cli.db, at, organization_id)(tracker)
    lines = [f"policy version {data['policy_version']} in force at {data['at']}"]
    lines += [f"{o['name']} ({o['id']}): {o['status']}, {o['trust_level']}: "
              f"{', '.join(o['tiers']) or '-'}" for o in data["organizations"]]
    lines += [f"  person {p['id']} of {p['organization_id']}: {', '.join(p['tiers']) or '-'}"
              for p in data["persons"]]
    emit(as_json, data, "\n".join(lines))


def _jwks(source: str) -> dict[str, Any]:
    """A JWKS from a file or a URL; one line saying why not otherwise."""
    try:
        raw = (get_bounded(source, max_bytes=256 * 1024, timeout=10, accept="application/json")
               if source.startswith(("http://", "https://")) else Path(source).read_bytes())
        keys = json.loads(raw)
    except (FetchFailed, OSError, ValueError) as error:
        raise InvalidInput(f"cannot read the JWKS from {source}: {error}") from None
    if not isinstance(keys, dict) or not isinstance(keys.get("keys"), list):
        raise InvalidInput(f"{source} is not a JWKS")
    return keys


