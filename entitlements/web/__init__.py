"""HTTP: every endpoint, by who calls it, and the one place errors become responses.

- ``oauth``: the token, introspection and revocation endpoints (RFC 6749 errors)
- ``signin/``: the authorization endpoint and the pages of a person's sign-in
- ``partner/``: what partners' backends call as their OAuth client (attestations, explain)
- ``admin/``: the admin API under /admin (admin keys)
- ``published``: discovery, the JWKS, the policy snapshot and the status lists
- ``health``: liveness
"""

from __future__ import annotations

from flask import Flask

from . import errors, health, limits, oauth, observability, published, throttle
from .admin import (
    admins,
    approvals,
    audit,
    clients,
    consents,
    evidence,
    identity_providers,
    issuers,
    jobs,
    keys,
    openapi,
    organizations,
    persons,
    policy,
    reports,
    tokens,
)
from .partner import attestations, explain
from .services import EXTENSION
from .signin import views as signin

BLUEPRINTS = (oauth, signin, published, health, attestations, explain, organizations,
              evidence, persons, issuers, identity_providers, consents, policy, approvals,
              tokens, jobs, clients, audit, keys, admins, reports, openapi)


def register(app: Flask) -> None:
    settings = app.extensions[EXTENSION].settings
    for module in BLUEPRINTS:
        app.register_blueprint(module.blueprint)
    observability.register(app, access=settings.access_log)
    limits.register(app)
    throttle.install(app, settings)
    errors.register(app)
