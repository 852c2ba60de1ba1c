import click
from sqlalchemy.orm import Session

from ..organizations import service as organizations
from ..organizations.models import Organization, TrustLevel
from ..organizations.schemas import OrganizationSchema
from ..policy import service as policy
from .context import CliContext, emit, json_option, pass_cli

TRUST_LEVELS = click.Choice([t.value for t in TrustLevel])


@click.group("orgs")
def command() -> None:
    """Partner organizations."""


@command.command("create")
@click.argument("name")
@click.option("--trust", "trust_level", type=TRUST_LEVELS, default=TrustLevel.VERIFIED.value,
              show_default=True)
@json_option
@pass_cli
def create_command(cli: CliContext, name: str, trust_level: str, as_json: bool) -> None:
    """Create an organization."""
    with cli.transaction() as session:
        org = organizations.create(session, cli.actor(), name, trust_level)
        _emit_org(session, org, as_json, f"created organization {org.id} ({org.name})")


@command.command("list")
@json_option
@pass_cli
def list_command(cli: CliContext, as_json: bool) -> None:
    """Every organization."""
    with cli.transaction() as session:
        orgs = organizations.list_all(session)
        data = [_dump(session, org) for org in orgs]
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
        data = _dump(session, org)
    emit(as_json, data, "\n".join(f"{k}: {v}" for k, v in data.items()))


@command.command("suspend")
@click.argument("org_id")
@click.option("--reason", required=True, help="Why, for the audit log.")
@json_option
@pass_cli
def suspend_command(cli: CliContext, org_id: str, reason: str, as_json: bool) -> None:
    """Suspend: its clients get invalid_client, its live tokens introspect inactive."""
    with cli.transaction() as session:
        org = organizations.suspend(session, cli.actor(), org_id, reason)
        _emit_org(session, org, as_json, f"suspended organization {org.id}")


@command.command("reinstate")
@click.argument("org_id")
@click.option("--reason", required=True, help="Why, for the audit log.")
@json_option
@pass_cli
def reinstate_command(cli: CliContext, org_id: str, reason: str, as_json: bool) -> None:
    """Lift a suspension."""
    with cli.transaction() as session:
        org = organizations.reinstate(session, cli.actor(), org_id, reason)
        _emit_org(session, org, as_json, f"reinstated organization {org.id}")


@command.command("grant-tier")
@click.argument("org_id")
@click.argument("tier")
@json_option
@pass_cli
def grant_tier_command(cli: CliContext, org_id: str, tier: str, as_json: bool) -> None:
    """Entitle an organization to a tier."""
    with cli.transaction() as session:
        policy.grant_tier(session, cli.actor(), org_id, tier)
        _emit_org(session, organizations.get(session, org_id), as_json,
                  f"organization {org_id} may now use tier {tier}")


@command.command("revoke-tier")
@click.argument("org_id")
@click.argument("tier")
@json_option
@pass_cli
def revoke_tier_command(cli: CliContext, org_id: str, tier: str, as_json: bool) -> None:
    """Take a tier away from an organization."""
    with cli.transaction() as session:
        policy.revoke_tier(session, cli.actor(), org_id, tier)
        _emit_org(session, organizations.get(session, org_id), as_json,
                  f"organization {org_id} may no longer use tier {tier}")


def _dump(session: Session, org: Organization) -> dict:
    return OrganizationSchema().dump({**_columns(org), "tiers": policy.granted_tiers(session,
                                                                                       org.id)})


def _columns(org: Organization) -> dict:
    return {c: getattr(org, c) for c in ("id", "name", "status", "trust_level", "created_at",
                                         "updated_at")}


def _emit_org(session: Session, org: Organization, as_json: bool, human: str) -> None:
    session.flush()
    emit(as_json, _dump(session, org), human)
