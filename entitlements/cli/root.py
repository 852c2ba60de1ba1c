"""The ``entitlements`` admin command.

Every command prints a human summary, or with ``--json`` a JSON document for
scripts. On error it prints one line to stderr and exits 1.
"""

from __future__ import annotations

import sys

import click
from sqlalchemy.exc import DBAPIError

from ..base.errors import EntitlementsError
from .context import CliContext
from .groups import LazyGroup


class _Group(LazyGroup):
    def main(self, *args: object, **kwargs: object) -> object:
        """Usage mistakes are one line too (click's default is the usage block), exit 2."""
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click.UsageError as error:
            where = f" (see {error.ctx.command_path} --help)" if error.ctx else ""
            _fail(f"{error.format_message()}{where}", code=2)
        except click.ClickException as error:
            _fail(error.format_message(), code=error.exit_code)
        except click.Abort:
            _fail("aborted")
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except EntitlementsError as error:
            _fail(error.message)
        except DBAPIError as error:
            _fail(f"the database failed: {str(error.orig).splitlines()[0]} "
                  "(check ENTITLEMENTS_DATABASE_URL)")


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"entitlements: error: {message}", err=True)
    sys.exit(code)


@click.group(cls=_Group)
@click.option("--actor", envvar="ENTITLEMENTS_ACTOR", default=None,
              help="Who is acting, for the audit log (default: cli:$USER).")
@click.pass_context
def main(ctx: click.Context, actor: str | None) -> None:
    """Trusted-partner identity and entitlement service."""
    ctx.obj = CliContext(actor)

