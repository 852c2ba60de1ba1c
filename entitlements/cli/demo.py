"""``entitlements demo``: a demo partner, gateway and client for trying the service."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..admins import service as admins
from ..admins import sessions
from ..admins.roles import Role
from ..base.actor import Actor
from ..base.secrets import check_secret
from ..base.settings import Settings
from ..clients import service as clients
from ..clients.models import OAuthClient
from ..organizations import service as organizations
from ..organizations.models import Organization, TrustLevel
from ..policy import service as policy
from ..resources import service as resources
from ..resources.models import ResourceServer
from .context import CliContext, emit, json_option, pass_cli

DEMO_ORG = "Demo Partner"
#: The console's first admin on a fresh install (an owner, made only when there is none).
DEMO_ADMIN = "admin"
#: Where the demo client's credentials are kept between runs (in the key folder, 0600).
CREDENTIALS = "demo-client.json"
DEMO_GATEWAY = "https://gateway.demo.invalid/models"
#: The demo's model catalog: a public model, a restricted one falling back to it, and an
#: early-access one falling back to the restricted one; ``public`` is open to every verified
#: organization, so every chain ends in a model anyone may use.
DEMO_CATALOG = {
    "tiers": {"public": {"status": "open"}},
    "models": {"base-1": {"tier": "public"},
               "frontier-2": {"tier": "restricted", "fallback": "base-1"},
               "preview-3": {"tier": "early-access", "fallback": "frontier-2"}},
}


@click.command("demo")
@click.option("--rotate", is_flag=True, help="Give the demo client a new secret.")
@click.option("--console-link", is_flag=True,
              help="Also print a single-use console sign-in link for the first admin (what "
                   "./scripts/run does).")
@json_option
@pass_cli
def command(cli: CliContext, rotate: bool, console_link: bool, as_json: bool) -> None:
    """Create (or reuse) the demo organization and client, and print its credentials: the
    same secret every run (kept in the key folder), a new one with --rotate. On a fresh
    install the first admin, an owner named admin, is made too."""
    actor = cli.actor()
    kept = Path(cli.settings.keys_dir) / CREDENTIALS
    with cli.transaction() as session:
        org = _demo_org(session, actor)
        _demo_catalog(session, actor)
        _demo_gateway(session, actor)
        client_id = _demo_client_id(session, actor, org.id)
        secret = None if rotate else _kept_secret(session, kept, client_id)
        fresh = secret is None
        if fresh:
            secret = clients.rotate_secret(session, actor, client_id).client_secret
        first_admin(session, actor)
        console = _console_link(session, actor, cli.settings) if console_link else None
    if fresh:  # kept once it is committed
        _keep(kept, client_id, secret)
    issuer = cli.settings.issuer
    curl = (f"curl -s -u '{client_id}:{secret}' -d grant_type=client_credentials "
            f"-d scope=tier:public {issuer}/oauth/token")
    data = {"issuer": issuer, "organization_id": org.id, "client_id": client_id,
            "client_secret": secret, "resource": DEMO_GATEWAY, "curl": curl,
            "kept_in": str(kept), "console": console}
    human = "\n".join([f"issuer:        {issuer}", f"organization:  {org.id} ({DEMO_ORG})",
                       f"client_id:     {client_id}", f"client_secret: {secret}",
                       f"  (kept in {kept}; entitlements demo --rotate makes a new one)",
                       "get a token:", f"  {curl}",
                       *([f"console:       {console}",
                          f"  (signs {DEMO_ADMIN} in once, within five minutes; "
                          f"entitlements admins login-link {DEMO_ADMIN} makes another)"]
                         if console else [])])
    emit(as_json, data, human)


def first_admin(session: Session, actor: Actor) -> None:
    """On a fresh install (no admin at all), the first: an owner named ``admin``."""
    if not admins.list_admins(session, limit=1).items:
        admins.add(session, actor, DEMO_ADMIN, [Role.OWNER])
        session.flush()


def _console_link(session: Session, actor: Actor, settings: Settings) -> str | None:
    """A sign-in link to the console for the first admin, when sign-in links are on and
    that admin is still there and active."""
    found = admins.find(session, DEMO_ADMIN)
    if not settings.login_links_enabled or found is None or found.status != "active":
        return None
    return sessions.link_url(settings.issuer, sessions.issue_login_link(
        session, actor, DEMO_ADMIN, enabled=True))


def _kept_secret(session: Session, kept: Path, client_id: str) -> str | None:
    """The kept secret, if it is still this client's."""
    try:
        stored = json.loads(kept.read_text())
    except (OSError, ValueError):
        return None
    client = session.get(OAuthClient, client_id)
    secret = stored.get("client_secret") if isinstance(stored, dict) else None
    if (client is None or stored.get("client_id") != client_id or not isinstance(secret, str)
            or not client.secret_hash or not check_secret(secret, client.secret_hash)):
        return None
    return secret


def _keep(kept: Path, client_id: str, secret: str) -> None:
    kept.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(kept, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump({"client_id": client_id, "client_secret": secret}, out)
    kept.chmod(0o600)


def _demo_org(session: Session, actor: Actor) -> Organization:
    org = session.scalar(select(Organization).where(Organization.name == DEMO_ORG))
    if org is None:
        org = organizations.create(session, actor, DEMO_ORG, TrustLevel.VERIFIED)
        session.flush()
    return org


def _demo_catalog(session: Session, actor: Actor) -> None:
    """The demo catalog, once: a policy whose catalog is empty gets it, active at once."""
    latest = policy.latest(session)
    if latest.document.get("models"):
        return
    row = policy.create_version(session, actor, base_version=latest.version,
                                reason="the demo's model catalog", patch=DEMO_CATALOG)
    policy.activate(session, actor, row.version, reason=row.reason, on_pending="keep")


def _demo_gateway(session: Session, actor: Actor) -> None:
    if session.get(ResourceServer, DEMO_GATEWAY) is None:
        default_taken = session.scalar(select(ResourceServer).where(ResourceServer.is_default))
        resources.register(session, actor, DEMO_GATEWAY, "Demo gateway",
                           default=default_taken is None)


def _demo_client_id(session: Session, actor: Actor, org_id: str) -> str:
    existing = session.scalar(
        select(OAuthClient.client_id).where(OAuthClient.organization_id == org_id,
                                            OAuthClient.status == "active")
    )
    if existing:
        return existing
    registration = clients.register(session, actor, org_id, name="Demo backend")
    session.flush()
    return registration.client.client_id
