"""Reports in the console: export a signed report of an interval (a job with live progress,
then its files), rebuild who could use what at a time (a job too), and malicious-activity
reports (flag, approve by a second admin, see the signed report)."""

from __future__ import annotations

from flask import Response, jsonify, redirect, request, send_file, url_for

from ...admins.roles import Permission
from ...base.errors import NotFound
from ...jobs import service as jobs
from ...policy.schemas import DecideSchema
from ...reports import abuse, who_could
from ...reports import service as reports
from ...reports.schemas import AbuseFlagSchema, ReportCreateSchema, WhoCouldQuerySchema
from ..admin.auth import transaction
from ..admin.jobs import launch
from ..admin.reports import export_job
from ..authority import actor
from ..services import services
from .forms import form
from .pages import render
from .session import console, console_blueprint

blueprint = console_blueprint("console_reports", __name__)
#: How many organizations and persons a rebuild shown in the console lists.
LISTED = 2000


@blueprint.get("/reports", endpoint="reports")
@console(Permission.READ)
def overview() -> Response:
    with services().db.sessions() as session:
        return render("console/reports.html",
                      exported=reports.list_reports(session, limit=20).items,
                      flagged=abuse.list_reports(session, limit=50).items,
                      categories=abuse.CATEGORIES, subjects=abuse.SUBJECTS,
                      asked=request.args)


@blueprint.post("/reports")
@console(Permission.READ)
def export() -> Response:
    body = form(ReportCreateSchema())
    job = export_job(body["starts_at"], body["ends_at"])
    return redirect(url_for("console_jobs.job", job_id=job["id"]))


@blueprint.get("/reports/<report_id>")
@console(Permission.READ)
def report(report_id: str) -> Response:
    with services().db.sessions() as session:
        row = reports.get(session, report_id)
        return render("console/report.html", row=row, manifest=reports.manifest_claims(row))


@blueprint.get("/reports/<report_id>/jwks.json")
@console(Permission.READ)
def report_jwks(report_id: str) -> Response:
    with services().db.sessions() as session:
        keys = reports.signing_jwks(session, reports.get(session, report_id))
    response = jsonify(keys)
    response.headers["Content-Disposition"] = f'attachment; filename="{report_id}.jwks.json"'
    return response


@blueprint.get("/reports/<report_id>/<any(events, manifest):part>")
@console(Permission.READ)
def download(report_id: str, part: str) -> Response:
    with services().db.sessions() as session:
        events, manifest = reports.files(reports.get(session, report_id),
                                         services().report_writer.directory)
    path = events if part == "events" else manifest
    return send_file(path, mimetype="application/jsonl" if part == "events"
                     else "application/jwt", as_attachment=True, download_name=path.name)


@blueprint.post("/who-could")
@console(Permission.READ)
def who_could_job() -> Response:
    body = form(WhoCouldQuerySchema())
    with services().db.sessions() as session:
        who_could.check(session, body["at"], body["organization_id"], actor().now)
    work = who_could.tracked(services().db, body["at"], body["organization_id"], LISTED)
    job = launch("who_could", {"at": body["at"].isoformat(),
                               "organization_id": body["organization_id"]}, work)
    return redirect(url_for("console_jobs.job", job_id=job["id"]))


@blueprint.get("/who-could/<job_id>")
@console(Permission.READ)
def who_could_result(job_id: str) -> Response:
    with services().db.sessions() as session:
        row = jobs.get(session, job_id)
    if row.kind != "who_could":
        raise NotFound(f"job {job_id} is no who-could rebuild")
    if row.state != "done":  # its page shows how far it got, or why it failed
        return redirect(url_for("console_jobs.job", job_id=job_id))
    return render("console/who_could.html", result=row.result)


@blueprint.post("/abuse-reports")
@console(Permission.FLAG_ABUSE)
def flag() -> Response:
    evidence = [{"description": line.strip(), "reference": None, "sha256": None}
                for line in request.form.get("evidence", "").splitlines() if line.strip()]
    body = form(AbuseFlagSchema(), extra={"evidence": evidence})
    with transaction() as session:
        row = abuse.flag(session, actor(), **body)
        report_id = row.id
    return redirect(url_for(".abuse_report", report_id=report_id,
                            ok="Flagged: a second admin approves the report."))


@blueprint.get("/abuse-reports/<report_id>")
@console(Permission.READ)
def abuse_report(report_id: str) -> Response:
    with services().db.sessions() as session:
        row = abuse.get(session, report_id)
        document = abuse.document(session, row, services().settings.issuer)
        return render("console/abuse.html", row=row, document=document)


@blueprint.post("/abuse-reports/<report_id>/approve")
@console(Permission.APPROVE_ABUSE)
def approve_abuse(report_id: str) -> Response:
    body = form(DecideSchema())
    found = services()
    with transaction() as session:
        abuse.approve(session, actor(), report_id, body["reason"], ring=found.keys.get(),
                      issuer=found.settings.issuer, recipient=found.settings.abuse_report_url)
    sent = ("it goes to the configured recipient" if found.settings.abuse_report_url else
            "no recipient is set (ENTITLEMENTS_ABUSE_REPORT_URL): export it from here")
    return redirect(url_for(".abuse_report", report_id=report_id,
                            ok=f"Approved and signed; {sent}."))


@blueprint.post("/abuse-reports/<report_id>/reject")
@console(Permission.FLAG_ABUSE)
def reject_abuse(report_id: str) -> Response:
    body = form(DecideSchema())
    with transaction() as session:
        state = abuse.reject(session, actor(), report_id, body["reason"]).state
    return redirect(url_for(".abuse_report", report_id=report_id, ok=f"Report {state}."))
