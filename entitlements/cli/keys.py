from datetime import timedelta

import click

from ..kernel.claims import SIGNING_ALGORITHMS
from ..signing import service as signing
from ..signing.schemas import SigningKeySchema
from .context import CliContext, emit, json_option, pass_cli


@click.group("keys")
def command() -> None:
    """Signing keys: list, rotate, revoke."""


@command.command("list")
@json_option
@pass_cli
def list_command(cli: CliContext, as_json: bool) -> None:
    """Every key with its state (pending, active, retired, expired, revoked)."""
    with cli.transaction() as session:
        data = SigningKeySchema(many=True).dump(
            signing.described(session, cli.clock.now(), _max_ttl(cli)))
    human = "\n".join(f"{r['kid']}  {r['alg']:6} {r['state']:8} activates {r['activates_at']}"
                      for r in data) or "no keys"
    emit(as_json, data, human)


@command.command("rotate")
@click.option("--now", "immediate", is_flag=True,
              help="Sign with the new key at once (skips pre-publication; emergencies only).")
@click.option("--alg", type=click.Choice(SIGNING_ALGORITHMS), default=None,
              help="Which key to rotate: ENTITLEMENTS_SIGNING_ALG's (access tokens) by "
                   "default, RS256 for ID tokens.")
@json_option
@pass_cli
def rotate_command(cli: CliContext, immediate: bool, alg: str | None, as_json: bool) -> None:
    """Publish a new key; it signs after the pre-publication window."""
    settings = cli.settings
    prepublish = timedelta(seconds=0 if immediate else settings.key_prepublish_seconds)
    with cli.transaction() as session:
        info = signing.rotate(session, cli.key_store, cli.actor(), alg or settings.signing_alg,
                              prepublish)
    emit(as_json, {"kid": info.kid, "alg": info.alg,
                   "activates_at": info.activates_at.isoformat()},
         f"key {info.kid} published; it signs from {info.activates_at.isoformat()}")


@command.command("revoke")
@click.argument("kid")
@click.option("--reason", required=True, help="Why, for the audit log.")
@json_option
@pass_cli
def revoke_command(cli: CliContext, kid: str, reason: str, as_json: bool) -> None:
    """Withdraw a (compromised) key from the JWKS at once."""
    with cli.transaction() as session:
        replacement = signing.revoke(session, cli.key_store, cli.actor(), kid, reason,
                                     _max_ttl(cli))
    new_kid = replacement.kid if replacement else None
    emit(as_json, {"revoked": kid, "replacement": new_kid},
         f"key {kid} revoked" + (f"; key {new_kid} signs from now" if new_kid else ""))


def _max_ttl(cli: CliContext) -> timedelta:
    return cli.settings.max_token_ttl
