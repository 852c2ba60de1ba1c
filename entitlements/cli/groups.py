"""The command's groups, each in a module of its own and imported only when it runs: a
command loads what it needs, not the whole server (``entitlements orgs list`` imports no
Flask)."""

from __future__ import annotations

import importlib

import click

#: name -> the module whose ``command`` it is, in the order ``--help`` lists them.
GROUPS = {
    "db": "db", "keys": "keys", "orgs": "orgs", "persons": "persons", "issuers": "issuers",
    "idps": "idps", "clients": "clients", "consents": "consents", "resources": "resources",
    "tiers": "tiers", "policy": "policy", "tokens": "tokens", "audit": "audit",
    "report": "report", "abuse": "abuse", "notices": "notices", "admins": "admins",
    "serve": "serve", "gateway": "gateway", "demo": "demo",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(GROUPS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        module = GROUPS.get(name)
        if module is None:
            return None
        return importlib.import_module(f"{__package__}.{module}").command
