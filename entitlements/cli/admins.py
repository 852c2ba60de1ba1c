import click

from ..admins import service as admins
from ..admins import sessions
from ..admins.roles import ROLES
from ..admins.schemas import AdminKeySchema, AdminSchema
from ..base.errors import Conflict
from ..base.pages import every
from .context import CliContext, emit, json_option, pass_cli

role_option = click.option("--role", "roles", multiple=True,
                           type=click.Choice([role.value for role in ROLES]),
                           help="A role (repeat for several).")


@click.group("admins")
def command() -> None:
    """Admins, their roles and API keys, and console sign-in links."""


@command.command("add")
@click.argument("name")
@role_option
@click.option("--email", default=None, help="The verified e-mail the console's sign-on gives.")
@click.option("--sso-subject", default=None, help="Or the subject the sign-on names them by.")
@json_option
@pass_cli
def add_command(cli: CliContext, name: str, roles: tuple[str, ...], email: str | None,
                sso_subject: str | None, as_json: bool) -> None:
    """Add admin NAME with roles (at least one --role)."""
    with cli.transaction() as session:
        data = AdminSchema().dump(admins.add(session, cli.actor(), name, roles, email=email,
                                             sso_subject=sso_subject))
    emit(as_json, data, f"admin {name} added: {', '.join(data['roles'])}")


@command.command("update")
@click.argument("name")
@role_option
@click.option("--email", default=None, help="A new e-mail ('' to clear).")
@click.option("--sso-subject", default=None, help="A new sign-on subject ('' to clear).")
@click.option("--disable/--enable", "disabled", default=None,
              help="Disable (ends their sessions; their keys stop working) or enable.")
@json_option
@pass_cli
def update_command(cli: CliContext, name: str, roles: tuple[str, ...], email: str | None,
                   sso_subject: str | None, disabled: bool | None, as_json: bool) -> None:
    """Change an admin's roles (the given --role set replaces theirs), sign-on identity or
    status."""
    status = None if disabled is None else ("disabled" if disabled else "active")
    with cli.transaction() as session:
        data = AdminSchema().dump(admins.update(session, cli.actor(), name,
                                                roles=roles or None, status=status,
                                                email=email, sso_subject=sso_subject))
    emit(as_json, data, f"admin {name}: {data['status']}, {', '.join(data['roles'])}")


@command.command("list")
@json_option
@pass_cli
def list_command(cli: CliContext, as_json: bool) -> None:
    """Every admin, with roles and status."""
    with cli.transaction() as session:
        data = AdminSchema(many=True).dump(every(admins.list_admins, session))
    human = "\n".join(f"{a['name']:20} {a['status']:8} {', '.join(a['roles'])}"
                      for a in data) or "no admins"
    emit(as_json, data, human)


@command.command("create")
@click.argument("name")
@role_option
@json_option
@pass_cli
def create_command(cli: CliContext, name: str, roles: tuple[str, ...], as_json: bool) -> None:
    """Issue an API key for admin NAME, acting with --role (default: all NAME's roles); it
    is printed this once. A new NAME is added with the given roles."""
    with cli.transaction() as session:
        if admins.find(session, name) is None:
            if not roles:
                raise Conflict(f"there is no admin {name}: give --role to add them, or "
                               f"'entitlements admins add {name} --role ...' first")
            admins.add(session, cli.actor(), name, roles)
            session.flush()
        issued = admins.issue(session, cli.actor(), name, roles or None)
        data = {"id": issued.key.id, "name": name, "roles": issued.key.roles,
                "key": issued.secret}
    emit(as_json, data, f"admin key {issued.key.id} for {name} "
                        f"({', '.join(issued.key.roles)}):\n{issued.secret}\n"
                        "(shown once; send it as Authorization: Bearer ...)")


@command.command("keys")
@click.option("--admin", "name", default=None, help="Only this admin's.")
@json_option
@pass_cli
def keys_command(cli: CliContext, name: str | None, as_json: bool) -> None:
    """Every admin API key (never the key itself)."""
    with cli.transaction() as session:
        data = AdminKeySchema(many=True).dump(
            every(admins.list_keys, session, admin=name))
    human = "\n".join(f"{k['id']}  {k['name']:20} "
                      f"{'revoked' if k['revoked_at'] else 'active':8} {', '.join(k['roles'])}"
                      for k in data) or "no admin keys"
    emit(as_json, data, human)


@command.command("revoke")
@click.argument("key_id")
@json_option
@pass_cli
def revoke_command(cli: CliContext, key_id: str, as_json: bool) -> None:
    """Revoke an admin API key at once."""
    with cli.transaction() as session:
        data = AdminKeySchema().dump(admins.revoke(session, cli.actor(), key_id))
    emit(as_json, data, f"admin key {key_id} revoked")


@command.command("login-link")
@click.argument("name")
@json_option
@pass_cli
def login_link_command(cli: CliContext, name: str, as_json: bool) -> None:
    """Print a single-use link that signs admin NAME in to the console, for five minutes
    (when login links are on: ENTITLEMENTS_CONSOLE_LOGIN_LINKS)."""
    settings = cli.settings
    with cli.transaction() as session:
        token = sessions.issue_login_link(session, cli.actor(), name,
                                          enabled=settings.login_links_enabled)
    url = sessions.link_url(settings.issuer, token)
    emit(as_json, {"admin": name, "url": url,
                   "expires_in": int(sessions.LINK_LIFETIME.total_seconds())},
         f"{url}\n(works once, for {int(sessions.LINK_LIFETIME.total_seconds() // 60)} "
         "minutes)")
