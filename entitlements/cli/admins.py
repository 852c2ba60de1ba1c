import click

from ..admins import service as admins
from .context import CliContext, emit, json_option, pass_cli


@click.group("admins")
def command() -> None:
    """Admin API keys (the admin REST API's credentials)."""


@command.command("create")
@click.argument("name")
@json_option
@pass_cli
def create_command(cli: CliContext, name: str, as_json: bool) -> None:
    """Issue an API key for admin NAME; it is printed this once."""
    with cli.transaction() as session:
        issued = admins.issue(session, cli.actor(), name)
        data = {"id": issued.key.id, "name": name, "key": issued.secret}
    emit(as_json, data, f"admin key {issued.key.id} for {name}:\n{issued.secret}\n"
                        "(shown once; send it as Authorization: Bearer ...)")


@command.command("list")
@json_option
@pass_cli
def list_command(cli: CliContext, as_json: bool) -> None:
    """Every admin key (never the key itself)."""
    with cli.transaction() as session:
        data = [{"id": k.id, "name": k.name, "created_at": k.created_at.isoformat(),
                 "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None}
                for k in admins.list_all(session)]
    human = "\n".join(f"{k['id']}  {k['name']:20} {'revoked' if k['revoked_at'] else 'active'}"
                      for k in data) or "no admin keys"
    emit(as_json, data, human)


@command.command("revoke")
@click.argument("key_id")
@json_option
@pass_cli
def revoke_command(cli: CliContext, key_id: str, as_json: bool) -> None:
    """Revoke an admin key at once."""
    with cli.transaction() as session:
        key = admins.revoke(session, cli.actor(), key_id)
        data = {"id": key.id, "name": key.name, "revoked_at": key.revoked_at.isoformat()}
    emit(as_json, data, f"admin key {key_id} revoked")
