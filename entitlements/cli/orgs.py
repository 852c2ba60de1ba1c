from datetime import datetime
from typing import Any

import click
from sqlalchemy.orm import Session

from ..base.pages import every
from ..operations import organizations as operations
from ..operations import policy_changes
from ..organizations import evidence
from ..organizations import service as organizations
from ..organizations.domains import DnsPythonResolver
from ..organizations.lei import GleifRegistry
from ..organizations.models import Organization, TrustLevel
from ..organizations.schemas import (
    EvidenceSchema,
    OrganizationChangeSchema,
    TrustRequestSchema,
    dump_organization,
)
from ..policy import service as policy
from .context import (
    CliContext,
    IsoTime,
    emit,
    emit_waiting,
    json_option,
    on_pending_option,
    pass_cli,
)
from .progress import progress

TRUST_LEVELS = click.Choice([t.value for t in TrustLevel])


@click.group("orgs")
def command() -> None:
    """Partner organizations."""


@command.command("create")
@click.argument("name")
@click.option("--trust", "trust_level", type=click.Choice(["unverified", "verified"]),
              default=TrustLevel.VERIFIED.value, show_default=True)
@click.option("--country", default=None, help="ISO 3166-1 alpha-2 country of incorporation.")
@json_option
@pass_cli
def create_command(cli: CliContext, name: str, trust_level: str, country: str | None,
                   as_json: bool) -> None:
    """Onboard a verified organization in one step (one admin vouches for it)."""
    with cli.transaction() as session:
        org = organizations.create(session, cli.actor(), name, trust_level, country)
        _emit_org(cli, session, org, as_json, f"created organization {org.id} ({org.name})")


@command.command("apply")
@click.argument("name")
@click.option("--country", default=None, help="ISO 3166-1 alpha-2 country of incorporation.")
@json_option
@pass_cli
def apply_command(cli: CliContext, name: str, country: str | None, as_json: bool) -> None:
    """Record an application (status applied, trust unverified)."""
    with cli.transaction() as session:
        org = organizations.apply(session, cli.actor(), name, country)
        _emit_org(cli, session, org, as_json, f"organization {org.id} ({org.name}) applied")


def _lifecycle_command(action: str, summary: str) -> None:
    @command.command(action, help=summary)
    @click.argument("org_id")
    @click.option("--reason", required=True, help="Why, for the history and audit log.")
    @json_option
    @pass_cli
    def run(cli: CliContext, org_id: str, reason: str, as_json: bool) -> None:
        with cli.transaction() as session:
            org = operations.move(session, cli.actor(), org_id, action, reason,
                                     required=cli.settings.evidence_required("verified"))
            _emit_org(cli, session, org, as_json, f"organization {org.id} is now {org.status}")


for _action, _summary in (
    ("review", "Start reviewing an application (applied -> under_review)."),
    ("verify", "Verify an organization under review (-> verified)."),
    ("suspend", "Suspend: its clients get invalid_client, its live tokens introspect inactive."),
    ("reinstate", "Lift a suspension (suspended -> verified)."),
    ("revoke", "Revoke an organization for good."),
):
    _lifecycle_command(_action, _summary)


@command.command("import")
@click.argument("source", type=click.File("r"))
@json_option
@pass_cli
def import_command(cli: CliContext, source: Any, as_json: bool) -> None:
    """Apply for many organizations from a JSON Lines file (one {"name", "country",
    "onboard"} a line; - for stdin), with a progress bar; names already known are skipped.
    Every line is checked before anything is written."""
    rows = operations.import_rows(source)
    with progress("importing", as_json) as tracker:
        result = operations.import_organizations(cli.db, cli.actor(), rows, tracker)
    emit(as_json, result, f"{result['created']} organization(s) created, "
                          f"{result['skipped_count']} already known")


@command.command("request-trust")
@click.argument("org_id")
@click.argument("level", type=click.Choice(["trusted", "government_partner"]))
@click.option("--reason", required=True, help="Why, for the history and audit log.")
@json_option
@pass_cli
def request_trust_command(cli: CliContext, org_id: str, level: str, reason: str,
                          as_json: bool) -> None:
    """Ask for a higher trust level; another admin must approve it."""
    with cli.transaction() as session:
        request = organizations.request_trust(session, cli.actor(), org_id, level, reason)
        data = TrustRequestSchema().dump(request)
    emit(as_json, data, f"trust request {data['id']} for {level} awaits a second admin")


@command.command("approve-trust")
@click.argument("request_id")
@click.option("--reason", required=True, help="Why, for the history and audit log.")
@json_option
@pass_cli
def approve_trust_command(cli: CliContext, request_id: str, reason: str, as_json: bool) -> None:
    """Approve another admin's trust request (two-person rule)."""
    with cli.transaction() as session:
        org = organizations.approve_trust(session, cli.actor(), request_id, reason,
                                          required=cli.settings.evidence_required)
        _emit_org(cli, session, org, as_json, f"organization {org.id} is now {org.trust_level}")


@command.command("reject-trust")
@click.argument("request_id")
@click.option("--reason", required=True, help="Why, for the history and audit log.")
@json_option
@pass_cli
def reject_trust_command(cli: CliContext, request_id: str, reason: str, as_json: bool) -> None:
    """Reject a trust request."""
    with cli.transaction() as session:
        request = organizations.reject_trust(session, cli.actor(), request_id, reason)
        data = TrustRequestSchema().dump(request)
    emit(as_json, data, f"trust request {request_id} rejected")


@command.command("lower-trust")
@click.argument("org_id")
@click.argument("level", type=TRUST_LEVELS)
@click.option("--reason", required=True, help="Why, for the history and audit log.")
@json_option
@pass_cli
def lower_trust_command(cli: CliContext, org_id: str, level: str, reason: str,
                        as_json: bool) -> None:
    """Lower an organization's trust (one admin suffices)."""
    with cli.transaction() as session:
        org = operations.lower_trust(session, cli.actor(), org_id, level, reason)
        _emit_org(cli, session, org, as_json, f"organization {org.id} is now {org.trust_level}")


@command.command("trust-requests")
@click.option("--org", "org_id", default=None)
@click.option("--state", type=click.Choice(["pending", "approved", "rejected"]), default=None)
@json_option
@pass_cli
def trust_requests_command(cli: CliContext, org_id: str | None, state: str | None,
                           as_json: bool) -> None:
    """Trust requests, oldest first."""
    with cli.transaction() as session:
        data = TrustRequestSchema(many=True).dump(
            every(organizations.trust_requests, session, org_id, state))
    human = "\n".join(f"{r['id']}  {r['state']:8} {r['level']:18} {r['organization_id']} "
                      f"by {r['requested_by']}" for r in data) or "no trust requests"
    emit(as_json, data, human)


@command.command("history")
@click.argument("org_id")
@json_option
@pass_cli
def history_command(cli: CliContext, org_id: str, as_json: bool) -> None:
    """Every lifecycle and trust change of an organization, with actor, reason and evidence."""
    with cli.transaction() as session:
        data = OrganizationChangeSchema(many=True).dump(
            every(organizations.history, session, org_id))
    human = "\n".join(f"{c['at']} {c['action']:12} {c['from_status']}->{c['to_status']} "
                      f"{c['from_trust']}->{c['to_trust']} by {c['actor']}"
                      f"{' approved by ' + c['approved_by'] if c['approved_by'] else ''}: "
                      f"{c['reason']}" for c in data)
    emit(as_json, data, human)


@command.command("list")
@json_option
@pass_cli
def list_command(cli: CliContext, as_json: bool) -> None:
    """Every organization."""
    with cli.transaction() as session:
        listed = policy.allowlisted_tiers(session, cli.clock.now())
        data = [dump_organization(org, listed.get(org.id, []))
                for org in every(organizations.list_all, session)]
    human = "\n".join(f"{o['id']}  {o['status']:9} {o['trust_level']:18} {o['name']}"
                      for o in data) or "no organizations"
    emit(as_json, data, human)


@command.command("show")
@click.argument("org_id")
@json_option
@pass_cli
def show_command(cli: CliContext, org_id: str, as_json: bool) -> None:
    """One organization with its tiers."""
    with cli.transaction() as session:
        org = organizations.get(session, org_id)
        data = _dump(session, org, cli.clock.now())
    emit(as_json, data, "\n".join(f"{k}: {v}" for k, v in data.items()))


@command.command("grant-tier")
@click.argument("org_id")
@click.argument("tier")
@on_pending_option
@json_option
@pass_cli
def grant_tier_command(cli: CliContext, org_id: str, tier: str, on_pending: str | None,
                       as_json: bool) -> None:
    """Entitle an organization to a tier (a policy change: a second admin approves it when
    the two-person rule covers allowlist edits)."""
    _edit_allowlist(cli, org_id, tier, True, on_pending, as_json,
                    f"organization {org_id} may now use tier {tier}")


@command.command("revoke-tier")
@click.argument("org_id")
@click.argument("tier")
@on_pending_option
@json_option
@pass_cli
def revoke_tier_command(cli: CliContext, org_id: str, tier: str, on_pending: str | None,
                        as_json: bool) -> None:
    """Take a tier away from an organization."""
    _edit_allowlist(cli, org_id, tier, False, on_pending, as_json,
                    f"organization {org_id} may no longer use tier {tier}")


def _edit_allowlist(cli: CliContext, org_id: str, tier: str, add: bool,
                    on_pending: str | None, as_json: bool, human: str) -> None:
    params, reason = policy_changes.allowlist_edit(org_id, tier, add=add, on_pending=on_pending)
    with cli.transaction() as session:
        outcome = policy_changes.change(session, cli.actor(), cli.approval_rule, "allowlist",
                                        params, reason)
        if not outcome.pending:
            session.flush()
            data = _dump(session, organizations.get(session, org_id), cli.clock.now())
    if outcome.pending:
        return emit_waiting(as_json, outcome.request)
    emit(as_json, data, human)


def _dump(session: Session, org: Organization, now: datetime) -> dict:
    return dump_organization(org, policy.tiers_listing(session, now, org.id))


def _emit_org(cli: CliContext, session: Session, org: Organization, as_json: bool,
              human: str) -> None:
    session.flush()
    emit(as_json, _dump(session, org, cli.clock.now()), human)


@command.command("evidence")
@click.argument("org_id")
@json_option
@pass_cli
def evidence_command(cli: CliContext, org_id: str, as_json: bool) -> None:
    """An organization's evidence and whether each piece was verified."""
    with cli.transaction() as session:
        data = EvidenceSchema(many=True).dump(every(evidence.list_evidence, session, org_id))
    human = "\n".join(f"{e['id']}  {e['kind']:9} {e['status']:8} {e['value']}"
                      for e in data) or "no evidence"
    emit(as_json, data, human)


@command.command("challenge-domain")
@click.argument("org_id")
@click.argument("domain")
@json_option
@pass_cli
def challenge_domain_command(cli: CliContext, org_id: str, domain: str, as_json: bool) -> None:
    """Issue a DNS TXT challenge the organization must publish."""
    with cli.transaction() as session:
        found = evidence.start_domain_challenge(session, cli.actor(), org_id, domain)
        data = EvidenceSchema().dump(found)
    emit(as_json, data, f"publish: {data['details']['record']} TXT "
                        f"\"{data['details']['value']}\"\nthen: entitlements orgs check-domain "
                        f"{data['id']}")


@command.command("check-domain")
@click.argument("evidence_id")
@json_option
@pass_cli
def check_domain_command(cli: CliContext, evidence_id: str, as_json: bool) -> None:
    """Look the challenge's TXT record up in DNS."""
    with cli.transaction() as session:
        found = evidence.check_domain(session, cli.actor(), evidence_id, DnsPythonResolver())
        data = EvidenceSchema().dump(found)
    if data["status"] == "verified":
        emit(as_json, data, f"domain {data['value']}: verified")
        return
    details = data["details"]
    reason = (f"domain {data['value']}: check failed: no TXT record at {details['record']} "
              f"holds \"{details['value']}\" (yet); publish it and check again")
    if as_json:
        emit(as_json, data, reason)
        raise SystemExit(1)
    raise click.ClickException(reason)


@command.command("check-lei")
@click.argument("org_id")
@click.argument("lei")
@json_option
@pass_cli
def check_lei_command(cli: CliContext, org_id: str, lei: str, as_json: bool) -> None:
    """Check an LEI's digits, then its GLEIF record against the application."""
    with cli.transaction() as session:
        found = evidence.check_lei(session, cli.actor(), org_id, lei, GleifRegistry())
        data = EvidenceSchema().dump(found)
    mismatches = ", ".join(data["details"]["mismatches"]) or "none"
    emit(as_json, data, f"LEI {data['value']}: {data['status']} (mismatches: {mismatches})")


@command.command("record-citizenship")
@click.argument("org_id")
@click.argument("reference")
@click.option("--nationality", "nationalities", multiple=True, required=True)
@click.option("--level", type=click.Choice(["low", "substantial", "high"]), required=True)
@click.option("--expires", type=IsoTime(with_date=True), required=True)
@json_option
@pass_cli
def record_citizenship_command(cli: CliContext, org_id: str, reference: str,
                               nationalities: tuple[str, ...], level: str, expires: datetime,
                               as_json: bool) -> None:
    """Record the organization's attestation that all its users are citizens."""
    with cli.transaction() as session:
        data = EvidenceSchema().dump(evidence.record_citizenship(
            session, cli.actor(), org_id, reference, nationalities=list(nationalities),
            level=level, expires_at=expires))
    emit(as_json, data, f"citizenship attestation {reference} recorded")


@command.command("record-agreement")
@click.argument("org_id")
@click.argument("reference")
@json_option
@pass_cli
def record_agreement_command(cli: CliContext, org_id: str, reference: str,
                             as_json: bool) -> None:
    """Record the signed partner agreement by its reference."""
    with cli.transaction() as session:
        data = EvidenceSchema().dump(evidence.record_agreement(session, cli.actor(), org_id,
                                                               reference))
    emit(as_json, data, f"agreement {reference} recorded")
