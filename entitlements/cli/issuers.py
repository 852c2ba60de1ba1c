from pathlib import Path

import click

from ..attestations import issuers
from ..attestations.models import FORMATS
from ..attestations.schemas import AttestationIssuerSchema
from ..base.pages import every
from ..kernel.assurance import ASSURANCE_LEVELS
from ..operations.registry import set_issuer_status
from .context import CliContext, emit, json_option, pass_cli, read_jwks_file
from .standing import add_standing_commands


@click.group("issuers")
def command() -> None:
    """Attestation issuers: whose citizenship statements we accept, within which limits."""


@command.command("register")
@click.argument("issuer")
@click.option("--name", required=True)
@click.option("--jwks", "jwks_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--jwks-uri", default=None)
@click.option("--format", "formats", multiple=True, type=click.Choice(FORMATS), required=True)
@click.option("--nationality", "nationalities", multiple=True, required=True,
              help="An ISO 3166-1 alpha-2 code it may attest (repeatable).")
@click.option("--level", "levels", multiple=True, type=click.Choice(ASSURANCE_LEVELS),
              required=True)
@click.option("--max-age-days", type=int, required=True)
@json_option
@pass_cli
def register_command(cli: CliContext, issuer: str, name: str, jwks_file: Path | None,
                     jwks_uri: str | None, formats: tuple[str, ...],
                     nationalities: tuple[str, ...], levels: tuple[str, ...],
                     max_age_days: int, as_json: bool) -> None:
    """Register an issuer with its keys and limits."""
    jwks = read_jwks_file(jwks_file) if jwks_file else None
    with cli.transaction() as session:
        row = issuers.register(session, cli.actor(), issuer=issuer, name=name, jwks=jwks,
                               jwks_uri=jwks_uri, formats=formats, nationalities=nationalities,
                               assurance_levels=levels, max_age_days=max_age_days)
        session.flush()
        data = AttestationIssuerSchema().dump(row)
    emit(as_json, data, f"registered issuer {data['id']} ({issuer})")


@command.command("list")
@json_option
@pass_cli
def list_command(cli: CliContext, as_json: bool) -> None:
    """Every issuer."""
    with cli.transaction() as session:
        data = AttestationIssuerSchema(many=True).dump(every(issuers.list_all, session))
    human = "\n".join(f"{i['id']}  {i['status']:9} {i['issuer']}" for i in data) or "no issuers"
    emit(as_json, data, human)


add_standing_commands(
    command, argument="issuer_id", noun="issuer", set_status=set_issuer_status,
    schema=AttestationIssuerSchema,
    suspend_help="Suspend an issuer: its verifications stop counting at once.",
    reinstate_help="Reinstate a suspended issuer.")
