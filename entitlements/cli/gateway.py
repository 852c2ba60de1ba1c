import click

from ..gateway import authz
from ..gateway.gateway import Gateway


@click.group("gateway")
def command() -> None:
    """The gateway SDK's HTTP authorization service (Envoy ext_authz, nginx auth_request)."""


@command.command("serve")
@click.option("--issuer", required=True, help="The entitlement service's issuer URL.")
@click.option("--audience", required=True, help="This gateway's resource identifier.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9191, show_default=True, type=int)
@click.option("--poll-interval", default=1.0, show_default=True, type=float)
@click.option("--allow-http", is_flag=True,
              help="Accept a plain-HTTP issuer off this machine (a private network you trust).")
def serve_command(issuer: str, audience: str, host: str, port: int,
                  poll_interval: float, allow_http: bool) -> None:
    """Answer 200 (with the model to use), 401 or 403 for each request's token and model."""
    gateway = Gateway(issuer, audience, poll_interval=poll_interval,
                      allow_http=allow_http).start()
    server = authz.serve(gateway, host, port)
    click.echo(f"authorization service on http://{host}:{port}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        gateway.close()
