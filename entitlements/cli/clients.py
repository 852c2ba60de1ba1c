from pathlib import Path

import click

from ..base.pages import every
from ..clients import service as clients
from ..clients.models import AuthMethod, GrantType
from ..clients.schemas import ClientRegistrationSchema, ClientSchema, client_columns
from ..operations import clients as operations
from .context import CliContext, emit, json_option, pass_cli, read_jwks_file

AUTH_METHODS = click.Choice([m.value for m in AuthMethod])
GRANT_TYPES = click.Choice([g.value for g in GrantType])


@click.group("clients")
def command() -> None:
    """OAuth clients of organizations."""


@command.command("create")
@click.option("--org", "org_id", required=True, help="The organization's id.")
@click.option("--name", default="", help="A label (default: the organization's name).")
@click.option("--auth-method", type=AUTH_METHODS, default=AuthMethod.CLIENT_SECRET_BASIC.value,
              show_default=True)
@click.option("--jwks", "jwks_file", type=click.Path(dir_okay=False, path_type=Path),
              help="A file with the client's public JWKS (private_key_jwt).")
@click.option("--jwks-uri", help="An https URL of the client's JWKS (private_key_jwt).")
@click.option("--default-tier", "default_tiers", multiple=True,
              help="A tier granted when a request names none (repeatable).")
@click.option("--introspect", "may_introspect", is_flag=True,
              help="Let this client (a gateway) introspect any token.")
@click.option("--grant-type", "grant_types", multiple=True, type=GRANT_TYPES,
              help="A grant it may use (repeatable; default: a backend's client_credentials "
                   "and token exchange, or authorization_code for --auth-method none).")
@click.option("--redirect-uri", "redirect_uris", multiple=True,
              help="Where sign-in may return (repeatable; authorization_code).")
@click.option("--require-par", is_flag=True,
              help="Authorization requests must be pushed first (RFC 9126).")
@click.option("--dpop", "dpop_bound_access_tokens", is_flag=True,
              help="Every token request must carry a DPoP proof: its tokens are all bound "
                   "to the client's key (RFC 9449).")
@json_option
@pass_cli
def create_command(
    cli: CliContext, org_id: str, name: str, auth_method: str, jwks_file: Path | None,
    jwks_uri: str | None, default_tiers: tuple[str, ...], may_introspect: bool,
    grant_types: tuple[str, ...], redirect_uris: tuple[str, ...], require_par: bool,
    dpop_bound_access_tokens: bool, as_json: bool,
) -> None:
    """Register a client. A secret is printed this once and never again."""
    jwks = read_jwks_file(jwks_file) if jwks_file else None
    with cli.transaction() as session:
        registration = operations.register(
            session, cli.actor(), org_id, name=name, auth_method=auth_method, jwks=jwks,
            jwks_uri=jwks_uri, default_tiers=list(default_tiers) or None,
            may_introspect=may_introspect, grant_types=list(grant_types) or None,
            redirect_uris=list(redirect_uris) or None, require_par=require_par,
            dpop_bound_access_tokens=dpop_bound_access_tokens,
        )
        session.flush()
        client = registration.client
        data = ClientRegistrationSchema().dump(
            {**client_columns(client), "client_secret": registration.client_secret}
        )
    human = f"client_id: {client.client_id}"
    if registration.client_secret:
        human += f"\nclient_secret: {registration.client_secret}\n(shown once; store it now)"
    emit(as_json, data, human)


@command.command("list")
@click.option("--org", "org_id", default=None, help="Only this organization's clients.")
@json_option
@pass_cli
def list_command(cli: CliContext, org_id: str | None, as_json: bool) -> None:
    """Every client (never a secret)."""
    with cli.transaction() as session:
        data = [_dump(c) for c in every(clients.list_all, session, org_id)]
    human = "\n".join(f"{c['client_id']}  {c['status']:8} {c['auth_method']:20} "
                      f"{c['organization_id']}" for c in data) or "no clients"
    emit(as_json, data, human)


@command.command("show")
@click.argument("client_id")
@json_option
@pass_cli
def show_command(cli: CliContext, client_id: str, as_json: bool) -> None:
    """One client (never its secret)."""
    with cli.transaction() as session:
        data = _dump(clients.get(session, client_id))
    emit(as_json, data, "\n".join(f"{k}: {v}" for k, v in data.items()))


@command.command("revoke")
@click.argument("client_id")
@click.option("--reason", required=True, help="Why, for the audit log.")
@json_option
@pass_cli
def revoke_command(cli: CliContext, client_id: str, reason: str, as_json: bool) -> None:
    """Revoke a client: invalid_client from now on, its live tokens introspect inactive."""
    with cli.transaction() as session:
        data = _dump(operations.revoke(session, cli.actor(), client_id, reason))
    emit(as_json, data, f"revoked client {client_id}")


@command.command("rotate-secret")
@click.argument("client_id")
@json_option
@pass_cli
def rotate_secret_command(cli: CliContext, client_id: str, as_json: bool) -> None:
    """Replace a client's secret; the new one is printed this once."""
    with cli.transaction() as session:
        registration = clients.rotate_secret(session, cli.actor(), client_id)
        data = ClientRegistrationSchema().dump(
            {**client_columns(registration.client), "client_secret": registration.client_secret}
        )
    emit(as_json, data, f"client_secret: {registration.client_secret}\n(shown once)")


def _dump(client: object) -> dict:
    return ClientSchema().dump(client_columns(client))
