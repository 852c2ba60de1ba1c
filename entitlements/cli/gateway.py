"""``entitlements gateway serve``: the SDK's HTTP authorization service."""

import click

from ..gateway import authz
from ..gateway.http import FetchError


@click.group("gateway")
def command() -> None:
    """The gateway SDK's HTTP authorization service (Envoy ext_authz, nginx auth_request)."""


@command.command("serve")
@click.option("--issuer", required=True, help="The entitlement service's issuer URL.")
@click.option("--audience", required=True, help="This gateway's resource identifier.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9191, show_default=True, type=click.IntRange(1, 65535))
@click.option("--poll-interval", default=1.0, show_default=True,
              type=click.FloatRange(min=0.05), help="Seconds between polls of the issuer.")
@click.option("--read-timeout", default=authz.READ_TIMEOUT, show_default=True,
              type=click.FloatRange(min=0.1), help="Seconds a request may take to arrive.")
@click.option("--max-connections", default=authz.MAX_CONNECTIONS, show_default=True,
              type=click.IntRange(1, 100_000))
@click.option("--allow-http", is_flag=True,
              help="Accept a plain-HTTP issuer off this machine (a private network you trust).")
@click.option("--public-url", default=None,
              help="The scheme and host clients address, which DPoP proofs name (behind a "
                   "proxy).")
@click.option("--dpop-nonce", is_flag=True,
              help="DPoP proofs must carry this service's nonce (instances share "
                   f"{authz.NONCE_SECRET_VARIABLE}).")
@click.option("--dpop-max-age", default=authz.DEFAULT_MAX_AGE, show_default=True,
              type=click.FloatRange(min=1), help="Seconds a DPoP proof is accepted.")
@click.option("--replay-redis", default=None,
              help="Share used DPoP proofs with every instance through this Redis URL.")
def serve_command(issuer: str, audience: str, host: str, port: int, poll_interval: float,
                  read_timeout: float, max_connections: int, allow_http: bool,
                  public_url: str | None, dpop_nonce: bool, dpop_max_age: float,
                  replay_redis: str | None) -> None:
    """Answer 200 (with the model to use), 401, 403 or 503 for each request's token and
    model; /healthz and /readyz for the service itself."""
    try:
        options = authz.dpop_options(public_url=public_url, require_nonce=dpop_nonce,
                                     max_age=dpop_max_age, redis_url=replay_redis)
    except FetchError as error:
        raise click.ClickException(str(error)) from None
    authz.run(issuer, audience, host=host, port=port, poll_interval=poll_interval,
              allow_http=allow_http, read_timeout=read_timeout,
              max_connections=max_connections, announce=click.echo, dpop=options)
