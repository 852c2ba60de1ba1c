"""/admin/reports: signed exports of an interval of the audit log (written by a job, read
back with their manifests), "who could use what at T", and malicious-activity reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, jsonify, send_file
from marshmallow import fields, validate

from ...admins.roles import Permission
from ...base.progress import Untracked
from ...jobs import service as job_records
from ...jobs.schemas import JobSchema
from ...notices import service as notices
from ...notices.schemas import NoticeSchema
from ...policy.schemas import DecideSchema
from ...reports import abuse, who_could
from ...reports import service as reports
from ...reports.schemas import (
    AbuseFlagSchema,
    AbuseReportSchema,
    ReportCreateSchema,
    ReportSchema,
    WhoCouldQuerySchema,
)
from ..authority import actor
from ..services import services
from . import jobs
from .auth import admin_blueprint, database, json_body, requires, transaction
from .described import described
from .listing import PageQuerySchema, page_response, query_args

blueprint = admin_blueprint("admin_reports", __name__)
#: How many organizations and persons an answer lists unless asked for more (counts are
#: always whole).
LISTED = 1_000
#: How many organizations and persons a who-could job keeps in its result.
JOB_LISTED = 2000


class AbuseQuerySchema(PageQuerySchema):
    state = fields.String(load_default=None, validate=validate.OneOf(
        ("pending", "approved", "rejected", "withdrawn")))


@blueprint.post("/reports")
@described("Export a signed report of an interval, as a job",
           body=ReportCreateSchema, status=202, answer=JobSchema)
@requires(Permission.READ)
def request_report() -> tuple[Response, int]:
    body = json_body(ReportCreateSchema())
    return jobs.accepted(export_job(body["starts_at"], body["ends_at"]))


def export_job(starts_at: datetime, ends_at: datetime) -> dict[str, Any]:
    """A report of [``starts_at``, ``ends_at``) asked for, and its job launched (the API's
    and the console's); the job."""
    with transaction() as session:
        row = reports.request(session, actor(), starts_at, ends_at)
        report_id, data = row.id, jobs.describe(job_records.get(session, row.job_id))
    writer = services().report_writer
    services().jobs.submit(data["id"], lambda progress: writer.write(report_id, progress))
    return data


@blueprint.get("/reports")
@described("List exported reports, newest first",
           query=PageQuerySchema, answer=ReportSchema, page=True)
@requires(Permission.READ)
def list_reports() -> Response:
    page = query_args(PageQuerySchema())
    with database().sessions() as session:
        return page_response(reports.list_reports(session, **page), ReportSchema())


@blueprint.get("/reports/<report_id>")
@described("Show an exported report", answer=ReportSchema)
@requires(Permission.READ)
def get_report(report_id: str) -> Response:
    with database().sessions() as session:
        return jsonify(ReportSchema().dump(reports.get(session, report_id)))


@blueprint.get("/reports/<report_id>/events")
@described("A report's events, one JSON object a line", media="application/jsonl")
@requires(Permission.READ)
def report_events(report_id: str) -> Response:
    with database().sessions() as session:
        events, _ = reports.files(reports.get(session, report_id),
                                  services().report_writer.directory)
    return send_file(events, mimetype="application/jsonl", as_attachment=True,
                     download_name=events.name)


@blueprint.get("/reports/<report_id>/manifest")
@described("A report's signed manifest (a JWS)", media="application/jwt")
@requires(Permission.READ)
def report_manifest(report_id: str) -> Response:
    with database().sessions() as session:
        row = reports.get(session, report_id)
        reports.files(row, services().report_writer.directory)
        return Response(row.manifest, mimetype="application/jwt")


@blueprint.get("/reports/<report_id>/jwks")
@described("The public key that signed a report's manifest, as a JWKS (kept after the key "
           "leaves the published JWKS)")
@requires(Permission.READ)
def report_jwks(report_id: str) -> Response:
    with database().sessions() as session:
        return jsonify(reports.signing_jwks(session, reports.get(session, report_id)))


@blueprint.get("/reports/who-could")
@described("Who could use which tier at a time T, rebuilt from history",
           query=WhoCouldQuerySchema, conflicts=False)
@requires(Permission.READ)
def who_could_now() -> Response:
    """Every organization's and person's tiers at ``at``, rebuilt from history (the first
    1,000 of each unless ``limit`` says otherwise)."""
    args = query_args(WhoCouldQuerySchema())
    with database().sessions() as session:
        who_could.check(session, args["at"], args["organization_id"], actor().now)
        rebuilt = who_could.who_could(session, args["at"], Untracked(),
                                      organization_id=args["organization_id"])
    return jsonify(rebuilt.as_json(args["limit"] or LISTED))


@blueprint.post("/reports/who-could")
@described("The same rebuild as a job that shows its progress",
           body=WhoCouldQuerySchema, status=202, answer=JobSchema, conflicts=False)
@requires(Permission.READ)
def who_could_job() -> tuple[Response, int]:
    """The same rebuild as a job that shows its progress (its result lists at most 2,000
    of each)."""
    body = json_body(WhoCouldQuerySchema())
    with database().sessions() as session:
        who_could.check(session, body["at"], body["organization_id"], actor().now)
    work = who_could.tracked(services().db, body["at"], body["organization_id"],
                             min(body["limit"] or JOB_LISTED, JOB_LISTED))
    return jobs.start("who_could", {"at": body["at"].isoformat(),
                                    "organization_id": body["organization_id"]}, work)


@blueprint.post("/abuse-reports")
@described("Flag an organization, client or person for malicious activity, with evidence",
           body=AbuseFlagSchema, status=201, answer=AbuseReportSchema)
@requires(Permission.FLAG_ABUSE)
def flag_abuse() -> tuple[Response, int]:
    body = json_body(AbuseFlagSchema())
    with transaction() as session:
        row = abuse.flag(session, actor(), **body)
        return jsonify(AbuseReportSchema().dump(row)), 201


@blueprint.get("/abuse-reports")
@described("List malicious-activity reports, newest first",
           query=AbuseQuerySchema, answer=AbuseReportSchema, page=True)
@requires(Permission.READ)
def list_abuse_reports() -> Response:
    args = query_args(AbuseQuerySchema())
    with database().sessions() as session:
        return page_response(abuse.list_reports(session, **args), AbuseReportSchema())


@blueprint.get("/abuse-reports/<report_id>")
@described("Show a malicious-activity report", answer=AbuseReportSchema)
@requires(Permission.READ)
def get_abuse_report(report_id: str) -> Response:
    with database().sessions() as session:
        return jsonify(AbuseReportSchema().dump(abuse.get(session, report_id)))


@blueprint.post("/abuse-reports/<report_id>/approve")
@described("Approve another admin's flag: the report is signed and sent (two-person rule)",
           body=DecideSchema, answer=AbuseReportSchema)
@requires(Permission.APPROVE_ABUSE)
def approve_abuse(report_id: str) -> Response:
    body = json_body(DecideSchema())
    found = services()
    with transaction() as session:
        row = abuse.approve(session, actor(), report_id, body["reason"], ring=found.keys.get(),
                            issuer=found.settings.issuer,
                            recipient=found.settings.abuse_report_url)
        return jsonify(AbuseReportSchema().dump(row))


@blueprint.post("/abuse-reports/<report_id>/reject")
@described("Reject a flag, or withdraw your own", body=DecideSchema, answer=AbuseReportSchema)
@requires(Permission.FLAG_ABUSE)
def reject_abuse(report_id: str) -> Response:
    body = json_body(DecideSchema())
    with transaction() as session:
        return jsonify(AbuseReportSchema().dump(abuse.reject(session, actor(), report_id,
                                                             body["reason"])))


@blueprint.get("/notices")
@described("List notices sent (or to send) outside the service, newest first",
           query=PageQuerySchema, answer=NoticeSchema, page=True)
@requires(Permission.READ)
def list_notices() -> Response:
    page = query_args(PageQuerySchema())
    with database().sessions() as session:
        return page_response(notices.list_notices(session, **page), NoticeSchema())


@blueprint.post("/notices/deliver")
@described("Send the notices that are due now (the serving processes do it every minute)",
           conflicts=False)
@requires(Permission.BREAK_GLASS, Permission.APPROVE_ABUSE)
def deliver_notices() -> Response:
    return jsonify(deliveries=[d.as_json() for d in services().notices.deliver_due()])
