from pathlib import Path
from typing import Any

import click

from ..base.discovery import discover
from ..base.pages import every
from ..base.sealing import Sealer
from ..identity_providers import service as idps
from ..identity_providers.schemas import IdentityProviderSchema
from ..operations.registry import set_idp_status
from .context import CliContext, emit, json_option, pass_cli, read_jwks_file
from .standing import add_standing_commands


@click.group("idps")
def command() -> None:
    """Organizations' identity providers, whose ID tokens partners exchange for person tokens."""


@command.command("register")
@click.argument("org_id")
@click.argument("issuer")
@click.option("--audience", "audiences", multiple=True, required=True,
              help="A client id the provider puts in its ID tokens' aud (repeatable).")
@click.option("--jwks", "jwks_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--jwks-uri", default=None)
@json_option
@pass_cli
def register_command(cli: CliContext, org_id: str, issuer: str, audiences: tuple[str, ...],
                     jwks_file: Path | None, jwks_uri: str | None, as_json: bool) -> None:
    """Register ORG_ID's identity provider ISSUER with its keys (a JWKS file or a URI)."""
    jwks = read_jwks_file(jwks_file) if jwks_file else None
    with cli.transaction() as session:
        row = idps.register(session, cli.actor(), org_id, issuer=issuer, audiences=audiences,
                            jwks=jwks, jwks_uri=jwks_uri)
        session.flush()
        data = IdentityProviderSchema().dump(row)
    emit(as_json, data, f"registered identity provider {data['id']} ({issuer}) for {org_id}")


@command.command("list")
@click.argument("org_id")
@json_option
@pass_cli
def list_command(cli: CliContext, org_id: str, as_json: bool) -> None:
    """ORG_ID's identity providers."""
    with cli.transaction() as session:
        data = IdentityProviderSchema(many=True).dump(every(idps.list_for, session, org_id))
    human = "\n".join(f"{i['id']}  {i['status']:9} {i['issuer']}" for i in data) or (
        "no identity providers")
    emit(as_json, data, human)


@command.command("sign-in")
@click.argument("idp_id")
@click.option("--client-id", required=True, help="Our client id at the provider.")
@click.option("--client-secret-file", type=click.File("r"), default=None,
              help="A file holding our client secret there ('-' reads standard input); "
                   "without one we are a public client there (PKCE only).")
@json_option
@pass_cli
def sign_in_command(cli: CliContext, idp_id: str, client_id: str,
                    client_secret_file: Any, as_json: bool) -> None:
    """Let IDP_ID's organization's people sign in through it (its discovery document is
    fetched now; the secret is sealed at rest and never printed)."""
    secret = client_secret_file.read().strip() if client_secret_file else None
    with cli.transaction() as session:
        issuer = idps.get(session, idp_id).issuer
    endpoints = discover(issuer)
    with cli.transaction() as session:
        row = idps.enable_sign_in(session, cli.actor(), idp_id, client_id=client_id,
                                  client_secret=secret or None, endpoints=endpoints,
                                  sealer=Sealer(cli.settings.keys_dir))
        data = IdentityProviderSchema().dump(row)
    emit(as_json, data, f"people of {data['organization_id']} sign in through {issuer} "
                        f"(authorization endpoint {endpoints.authorization_endpoint})")


add_standing_commands(
    command, argument="idp_id", noun="identity provider", set_status=set_idp_status,
    schema=IdentityProviderSchema,
    suspend_help="Suspend an identity provider: its ID tokens are refused at once.",
    reinstate_help="Reinstate a suspended identity provider.")
