import click

from . import (
    admins,
    audit,
    clients,
    db,
    demo,
    gateway,
    idps,
    issuers,
    keys,
    orgs,
    persons,
    policy,
    resources,
    serve,
    tiers,
    tokens,
)


def register_groups(main: click.Group) -> None:
    for module in (db, keys, orgs, persons, issuers, idps, clients, resources, tiers, policy,
                   tokens, audit, admins, serve, gateway, demo):
        main.add_command(module.command)
