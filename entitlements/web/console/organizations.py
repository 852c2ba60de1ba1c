"""Organizations in the console: the review queue and every organization; one organization
with its evidence, history, clients, live tokens and their tiers, and the moves an admin makes
on it (lifecycle, trust, tiers, evidence, clients)."""

from __future__ import annotations

from typing import Any

from flask import Response, redirect, request, url_for

from ...admins.roles import Permission
from ...clients import service as clients
from ...clients.schemas import ClientCreateSchema, RevokeSchema, client_columns
from ...jobs.service import Progress
from ...operations import clients as client_operations
from ...operations import organizations as operations
from ...operations import policy_changes
from ...organizations import evidence
from ...organizations import service as organizations
from ...organizations.lifecycle import TRANSITIONS
from ...organizations.schemas import (
    AgreementSchema,
    DomainChallengeSchema,
    LeiCheckSchema,
    LifecycleActionSchema,
    LowerTrustSchema,
    OrganizationCreateSchema,
    TrustRequestCreateSchema,
)
from ...persons import service as persons
from ...policy import service as policy
from ...policy.schemas import TierGrantSchema
from ...tokens import revocation
from ..admin.auth import transaction
from ..admin.jobs import launch
from ..authority import actor
from ..services import services
from .forms import form
from .pages import render
from .session import console, console_blueprint

blueprint = console_blueprint("console_organizations", __name__)
VIEWS = {"queue": ("applied", "under_review"), "verified": ("verified",),
         "suspended": ("suspended", "revoked"), "all": ()}


@blueprint.get("/organizations", endpoint="organizations")
@console(Permission.READ)
def queue() -> Response:
    view = request.args.get("view", "queue")
    statuses = VIEWS.get(view, ())
    with services().db.sessions() as session:
        page = organizations.list_all(session, statuses=statuses,
                                      cursor=request.args.get("cursor"), limit=50)
        listed = policy.allowlisted_tiers(session, actor().now)
        return render("console/organizations.html", page=page, view=view, views=VIEWS,
                      listed=listed, next_url=page.next_cursor and url_for(
                          ".organizations", view=view, cursor=page.next_cursor))


@blueprint.post("/organizations")
@console(Permission.ONBOARD)
def create() -> Response:
    body = form(OrganizationCreateSchema(), flags=("onboard",))
    with transaction() as session:
        make = organizations.create if body["onboard"] else organizations.apply
        org = make(session, actor(), body["name"], country=body.get("country"))
        org_id = org.id
    return redirect(url_for(".organization", org_id=org_id, ok="Organization recorded."))


@blueprint.post("/organizations/import")
@console(Permission.ONBOARD)
def import_many() -> Response:
    """Many organizations from JSON Lines, every line checked first, then as a job whose
    page shows its progress."""
    rows = operations.import_rows(request.form.get("lines", "").splitlines())
    who, db = actor(), services().db

    def work(progress: Progress) -> dict[str, Any]:
        return operations.import_organizations(db, who, rows, progress)

    job = launch("import", {"organizations": len(rows)}, work)
    return redirect(url_for("console_jobs.job", job_id=job["id"]))


@blueprint.get("/organizations/<org_id>")
@console(Permission.READ)
def organization(org_id: str) -> Response:
    now = actor().now
    with services().db.sessions() as session:
        org = organizations.get(session, org_id)
        tiers = policy.tiers_listing(session, now, org.id)
        return render(
            "console/organization.html", org=org, tiers=tiers,
            moves=[name for name, (sources, _) in TRANSITIONS.items() if org.status in sources],
            evidence=evidence.list_evidence(session, org_id, limit=200).items,
            history=organizations.history(session, org_id, limit=200).items,
            trust_requests=organizations.trust_requests(session, org_id, limit=50).items,
            clients=[client_columns(c) for c in clients.list_all(session, org_id,
                                                                  limit=200).items],
            persons=persons.list_for(session, org_id, limit=50).items,
            tokens=revocation.live_list(session, now, organization_id=org_id),
            policy_tiers=sorted(policy.latest(session).document["tiers"]),
            evidence_needed=_evidence_needed(session, org_id))


def _evidence_needed(session: Any, org_id: str) -> dict[str, tuple[list[str], list[str]]]:
    """For each trust level a second admin grants: the evidence it needs, and what of it
    the organization lacks (the approval is refused until none is)."""
    settings = services().settings
    return {level: (sorted(settings.evidence_required(level)), organizations.missing_evidence(
        session, org_id, settings.evidence_required(level)))
        for level in ("trusted", "government_partner")}


#: What each lifecycle move leaves the organization as.
MOVED = {"review": "The application is now under review.",
         "verify": "The organization is verified.",
         "suspend": "The organization is suspended; its clients get invalid_client.",
         "reinstate": "The organization is reinstated.",
         "revoke": "The organization is revoked for good."}


@blueprint.post("/organizations/<org_id>/move/<any(" + ", ".join(TRANSITIONS) + "):action>")
@console(Permission.ONBOARD)
def move(org_id: str, action: str) -> Response:
    body = form(LifecycleActionSchema())
    required = services().settings.evidence_required("verified")
    with transaction() as session:
        operations.move(session, actor(), org_id, action, body["reason"], required=required)
    return _back(org_id, MOVED[action])


@blueprint.post("/organizations/<org_id>/trust-request")
@console(Permission.ONBOARD)
def request_trust(org_id: str) -> Response:
    body = form(TrustRequestCreateSchema())
    with transaction() as session:
        organizations.request_trust(session, actor(), org_id, body["level"], body["reason"])
    return _back(org_id, "Trust requested: a second admin decides it under Trust requests.")


@blueprint.post("/organizations/<org_id>/lower-trust")
@console(Permission.ONBOARD)
def lower_trust(org_id: str) -> Response:
    body = form(LowerTrustSchema())
    with transaction() as session:
        operations.lower_trust(session, actor(), org_id, body["level"], body["reason"])
    return _back(org_id, "Trust lowered; the organization's live tokens are revoked.")


@blueprint.post("/organizations/<org_id>/tiers")
@console(Permission.EDIT_POLICY)
def grant_tier(org_id: str) -> Response:
    body = form(TierGrantSchema())
    return _allowlist(org_id, body["tier"], add=True, on_pending=body.get("on_pending"))


@blueprint.post("/organizations/<org_id>/tiers/<tier>/remove")
@console(Permission.EDIT_POLICY)
def remove_tier(org_id: str, tier: str) -> Response:
    return _allowlist(org_id, tier, add=False, on_pending=request.form.get("on_pending"))


EVIDENCE_NOTICES = {
    "domain": "Domain challenge issued: publish the TXT record below, then check it.",
    "lei": "LEI checked with GLEIF: see the result below.",
    "agreement": "Agreement recorded."}


@blueprint.post("/organizations/<org_id>/evidence/<any(domain, lei, agreement):kind>")
@console(Permission.ONBOARD)
def add_evidence(org_id: str, kind: str) -> Response:
    found, who = services(), actor()
    with transaction() as session:
        if kind == "domain":
            body = form(DomainChallengeSchema())
            evidence.start_domain_challenge(session, who, org_id, body["domain"])
        elif kind == "lei":
            body = form(LeiCheckSchema())
            evidence.check_lei(session, who, org_id, body["lei"], found.lei_registry)
        else:
            body = form(AgreementSchema())
            evidence.record_agreement(session, who, org_id, body["reference"])
    return _back(org_id, EVIDENCE_NOTICES[kind])


@blueprint.post("/evidence/<evidence_id>/check")
@console(Permission.ONBOARD)
def check_domain(evidence_id: str) -> Response:
    with transaction() as session:
        row = evidence.check_domain(session, actor(), evidence_id, services().dns)
        org_id, status, record = row.organization_id, row.status, row.details.get("record")
    if status == "verified":
        return _back(org_id, "Domain check: verified.")
    return _back(org_id, f"Domain check: failed: the TXT record {record} does not hold the "
                         "expected value yet (DNS may take a while); check again later.")


@blueprint.post("/organizations/<org_id>/clients")
@console(Permission.ONBOARD)
def register_client(org_id: str) -> Response:
    body = form(ClientCreateSchema(), lists=("grant_types", "redirect_uris"),
                extra={"organization_id": org_id})
    body.pop("organization_id")
    with transaction() as session:
        registration = client_operations.register(session, actor(), org_id, **body)
        session.flush()
        page = _secret_page(registration)
    return page  # once committed


@blueprint.post("/clients/<client_id>/revoke")
@console(Permission.ONBOARD)
def revoke_client(client_id: str) -> Response:
    body = form(RevokeSchema())
    with transaction() as session:
        client = client_operations.revoke(session, actor(), client_id, body["reason"])
        org_id = client.organization_id
    return _back(org_id, f"Client {client_id} revoked with its live tokens.")


@blueprint.post("/clients/<client_id>/secret")
@console(Permission.ONBOARD)
def rotate_secret(client_id: str) -> Response:
    with transaction() as session:
        registration = clients.rotate_secret(session, actor(), client_id)
        page = _secret_page(registration)
    return page  # once committed


def _secret_page(registration: Any) -> Response:
    """The client's new secret, shown this once."""
    client = registration.client
    return render("console/secret.html", heading=f"Client {client.client_id}", facts=[
        ("Client id", client.client_id), ("Client secret", registration.client_secret),
        ("Authentication", client.auth_method)],
        back=(url_for(".organization", org_id=client.organization_id),
              "Back to the organization"))


def _allowlist(org_id: str, tier: str, *, add: bool, on_pending: str | None) -> Response:
    params, reason = policy_changes.allowlist_edit(org_id, tier, add=add, on_pending=on_pending)
    with transaction() as session:
        outcome = policy_changes.change(session, actor(), services().approval_rule,
                                        "allowlist", params, reason)
    if outcome.pending and outcome.request is not None:
        return redirect(url_for("console_changes.change", request_id=outcome.request.id,
                                ok="Asked: a second admin approves it."))
    return _back(org_id, f"Tier {tier} {'granted' if add else 'taken away'}.")


def _back(org_id: str, notice: str) -> Response:
    return redirect(url_for(".organization", org_id=org_id, ok=notice))
