"""``entitlements abuse``: malicious-activity reports, flagged by one admin and approved
(then signed and sent) by a second."""

from __future__ import annotations

import json
from datetime import datetime

import click
import jwt
from marshmallow import ValidationError

from ..base.errors import InvalidInput
from ..base.pages import every
from ..reports import abuse
from ..reports.schemas import AbuseReportSchema, EvidenceItemSchema
from .context import CliContext, IsoTime, emit, json_option, pass_cli

WHEN = IsoTime(with_date=True)


@click.group("abuse")
def command() -> None:
    """Reports of malicious activity (two admins: one flags, another approves)."""


@command.command("flag")
@click.argument("subject_kind", type=click.Choice(abuse.SUBJECTS))
@click.argument("subject_id")
@click.option("--category", type=click.Choice(abuse.CATEGORIES), required=True)
@click.option("--description", required=True, help="What was observed.")
@click.option("--evidence", "evidence", multiple=True, required=True,
              help="A piece of evidence: a description, or a JSON object with description, "
                   "reference and sha256 (repeatable).")
@click.option("--from", "observed_from", type=WHEN, default=None)
@click.option("--until", "observed_until", type=WHEN, default=None)
@json_option
@pass_cli
def flag_command(cli: CliContext, subject_kind: str, subject_id: str, category: str,
                 description: str, evidence: tuple[str, ...], observed_from: datetime | None,
                 observed_until: datetime | None, as_json: bool) -> None:
    """Flag an organization, client or person."""
    items = [_evidence(text) for text in evidence]
    with cli.transaction() as session:
        data = AbuseReportSchema().dump(abuse.flag(
            session, cli.actor(), subject_kind=subject_kind, subject_id=subject_id,
            category=category, description=description, evidence=items,
            observed_from=observed_from, observed_until=observed_until))
    emit(as_json, data, f"flagged as {data['id']}; a second admin approves it: entitlements "
                        f"--actor <another admin> abuse approve {data['id']} --reason ...")


@command.command("approve")
@click.argument("report_id")
@click.option("--reason", required=True)
@json_option
@pass_cli
def approve_command(cli: CliContext, report_id: str, reason: str, as_json: bool) -> None:
    """Approve another admin's flag: the report is signed and sent to
    ENTITLEMENTS_ABUSE_REPORT_URL."""
    settings = cli.settings
    with cli.transaction() as session:
        data = AbuseReportSchema().dump(abuse.approve(
            session, cli.actor(), report_id, reason, ring=cli.key_ring.get(),
            issuer=settings.issuer, recipient=settings.abuse_report_url))
    sent = "queued for " + settings.abuse_report_url if settings.abuse_report_url else (
        "no recipient is set (ENTITLEMENTS_ABUSE_REPORT_URL)")
    emit(as_json, data, f"report {report_id} approved and signed; {sent}")


@command.command("reject")
@click.argument("report_id")
@click.option("--reason", required=True)
@json_option
@pass_cli
def reject_command(cli: CliContext, report_id: str, reason: str, as_json: bool) -> None:
    """Reject another admin's flag, or withdraw your own."""
    with cli.transaction() as session:
        data = AbuseReportSchema().dump(abuse.reject(session, cli.actor(), report_id, reason))
    emit(as_json, data, f"report {report_id} {data['state']}")


@command.command("list")
@click.option("--state", type=click.Choice(("pending", "approved", "rejected", "withdrawn")))
@json_option
@pass_cli
def list_command(cli: CliContext, state: str | None, as_json: bool) -> None:
    """Malicious-activity reports, newest first."""
    with cli.transaction() as session:
        data = AbuseReportSchema(many=True).dump(every(abuse.list_reports, session,
                                                       state=state))
    emit(as_json, data, "\n".join(
        f"{r['id']}  {r['state']:9} {r['category']:26} {r['subject_kind']} {r['subject_id']}"
        for r in data) or "no reports")


@command.command("export")
@click.argument("report_id")
@json_option
@pass_cli
def export_command(cli: CliContext, report_id: str, as_json: bool) -> None:
    """Print an approved report: its signed JWS (typ entitlements-abuse-report+jwt); with
    --json, the JWS and the report it signs."""
    with cli.transaction() as session:
        row = abuse.get(session, report_id)
    if row.signed is None:
        raise InvalidInput(f"report {report_id} is {row.state}: only an approved one is signed")
    claims = jwt.decode(row.signed, options={"verify_signature": False})
    emit(as_json, {"id": row.id, "jws": row.signed, "report": claims["report"]}, row.signed)


def _evidence(text: str) -> dict[str, str | None]:
    """``--evidence``: plain text is a description; a JSON object is checked by the API's
    schema."""
    if not text.lstrip().startswith("{"):
        text = json.dumps({"description": text})
    try:
        return EvidenceItemSchema().loads(text)
    except (ValueError, ValidationError) as error:
        raise InvalidInput(f"--evidence {text[:40]!r} is not valid: {error}") from None
