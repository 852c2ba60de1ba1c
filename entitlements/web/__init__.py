"""HTTP: every endpoint, by who calls it, and the one place errors become responses.

- ``oauth``: the token, introspection and revocation endpoints (RFC 6749 errors)
- ``signin/``: the authorization endpoint and the pages of a person's sign-in
- ``partner/``: what partners' backends call as their OAuth client (attestations, explain)
- ``admin/``: the admin API under /admin (admin keys)
- ``console/``: the admin console under /console (pages, single sign-on)
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
from .console import admins as console_admins
from .console import audit as console_audit
from .console import changes as console_changes
from .console import clients as console_clients
from .console import dashboard, parties, revocations, trust
from .console import jobs as console_jobs
from .console import keys as console_keys
from .console import organizations as console_organizations
from .console import policy as console_policy
from .console import reports as console_reports
from .console import signin as console_signin
from .partner import attestations, explain
from .services import EXTENSION
from .signin import views as signin

BLUEPRINTS = (oauth, signin, published, health, attestations, explain, organizations,
              evidence, persons, issuers, identity_providers, consents, policy, approvals,
              tokens, jobs, clients, audit, keys, admins, reports, openapi)
CONSOLE = (console_signin, dashboard, console_organizations, trust, parties, console_clients,
           console_policy, console_changes, revocations, console_keys, console_audit,
           console_reports, console_admins, console_jobs)


def register(app: Flask) -> None:
    settings = app.extensions[EXTENSION].settings
    for module in (*BLUEPRINTS, *CONSOLE):
        app.register_blueprint(module.blueprint)
    observability.register(app, access=settings.access_log)
    limits.register(app)
    throttle.install(app, settings)
    errors.register(app)
