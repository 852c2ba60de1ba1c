"""The Flask application factory: settings, the services the views use, blueprints, errors."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from .admins.sso import ConsoleSso, SsoConfig
from .attestations.credential_status import CredentialStatus
from .attestations.service import Verifiers
from .audit.refusals import RefusalLog
from .base import logs
from .base.actor import SYSTEM_ACTOR, Actor
from .base.clock import Clock, SystemClock
from .base.db import Database
from .base.migrations import require_current_schema
from .base.remote_jwks import RemoteJwks
from .base.sealing import Sealer
from .base.settings import Settings, load_settings
from .dpop.proofs import ProofChecker
from .dpop.replays import replay_store
from .issuance.service import Issuance
from .jobs.runner import JobRunner
from .oauth.client_record import ClientDirectory
from .oauth.server import EntitlementsServer
from .operations.notices import NoticeSender
from .organizations.domains import DnsPythonResolver
from .organizations.lei import GleifRegistry
from .policy.approvals import ApprovalRule
from .policy.snapshot import PolicySnapshotPublisher
from .policy.store import PolicyStore
from .reports import anchors
from .reports.service import Writer
from .resources.directory import ResourceDirectory
from .signing import service as signing
from .signing.keyring import KeyRingCache
from .signing.keystore import FileKeyStore
from .ticker import Ticker
from .tokens.allocator import StatusIndexAllocator
from .tokens.ledger import TokenLedger
from .tokens.status_lists import StatusListPublisher
from .web import register
from .web.asgi import BufferedWsgi
from .web.observability import current_request_id
from .web.services import EXTENSION, Services


def create_app(
    settings: Settings | None = None, *, clock: Clock | None = None, db: Database | None = None,
    remote_jwks: RemoteJwks | None = None,
) -> Flask:
    settings = settings or load_settings()
    clock = clock or SystemClock()
    db = db or Database(settings.database_url)
    require_current_schema(db.engine, settings.database_url)
    logging.getLogger("entitlements").setLevel(settings.log_level)

    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes)
    if settings.proxy_hops:  # the client's address and scheme as the proxies saw them
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops,  # type: ignore[method-assign]
                                x_proto=settings.proxy_hops)
    app.extensions[EXTENSION] = build_services(settings, clock, db,
                                               remote_jwks or RemoteJwks())
    register(app)
    return app


def create_asgi_app() -> BufferedWsgi:
    """The service for an ASGI server (what ``entitlements serve`` runs): the Flask app
    behind a front that reads every body in full, bounded in size and time, before a thread
    runs the request. It also starts the ticker (audit checkpoints, notice delivery)."""
    settings = load_settings()
    logs.configure(settings.log_level, settings.log_format, current_request_id)
    app = create_app(settings)
    Ticker(app.extensions[EXTENSION]).start()
    return BufferedWsgi(app, max_body=settings.max_body_bytes,
                        body_timeout=settings.body_timeout, threads=settings.server_threads)


def build_services(settings: Settings, clock: Clock, db: Database, remote_jwks: RemoteJwks
                   ) -> Services:
    """Every long-lived collaborator, each built once and handed to those that use it."""
    store = FileKeyStore(settings.keys_dir, settings.keys_passphrase)
    with db.transaction() as session:
        signing.ensure_signing_key(session, store, Actor(SYSTEM_ACTOR, clock.now()),
                                   settings.signing_alg)
    ttl = settings.max_token_ttl
    keys = KeyRingCache(signing.ring_loader(db, store, ttl, settings.signing_alg),
                        create=lambda alg, now: _first_key(db, store, alg, now))
    clients = ClientDirectory(db, settings.client_cache_ttl)
    resources = ResourceDirectory(db, settings.client_cache_ttl)
    policies = PolicyStore(db, settings.policy_cache_ttl)
    ledger = TokenLedger(db, clock, max_batch=settings.ledger_max_batch)
    issuance = Issuance(db=db, clock=clock, settings=settings, keys=keys, policies=policies,
                        ledger=ledger, status_slots=StatusIndexAllocator(db, clock),
                        remote_jwks=remote_jwks)
    oauth = EntitlementsServer(db=db, settings=settings, clock=clock, keys=keys,
                               remote_jwks=remote_jwks, issuance=issuance, clients=clients,
                               resources=resources,
                               proofs=ProofChecker(settings, clock,
                                                   replay_store(db, settings.redis_url)))
    return Services(
        settings=settings, db=db, clock=clock, keys=keys, key_store=store, oauth=oauth,
        clients=clients,
        resources=resources, policies=policies, ledger=ledger,
        refusals=RefusalLog(db, clock),
        status_lists=StatusListPublisher(db, keys, settings, clock),
        snapshot=PolicySnapshotPublisher(policies, keys, settings, clock),
        verifiers=Verifiers(remote_jwks, CredentialStatus()), dns=DnsPythonResolver(),
        lei_registry=GleifRegistry(), sealer=Sealer(settings.keys_dir),
        remote_jwks=remote_jwks, approval_rule=ApprovalRule.of(settings.two_person_policy),
        notices=NoticeSender(db, keys, clock, settings.issuer), jobs=JobRunner(db, clock),
        report_writer=Writer(db, keys, clock, settings.issuer, Path(settings.reports_dir)),
        anchors=anchors.configured(settings), console_sso=_console_sso(settings, remote_jwks))


def _console_sso(settings: Settings, remote_jwks: RemoteJwks) -> ConsoleSso | None:
    """The console's relying party at the lab's provider, when one is set up."""
    if not settings.sso_configured:
        return None
    config = SsoConfig(settings.console_oidc_issuer, settings.console_oidc_client_id,
                       settings.console_oidc_client_secret,
                       settings.issuer + "/console/callback")
    return ConsoleSso(config, remote_jwks, leeway=timedelta(seconds=settings.clock_leeway),
                      max_lifetime=timedelta(seconds=settings.id_token_max_lifetime))


def _first_key(db: Database, store: FileKeyStore, alg: str, now: datetime) -> None:
    """The first key of another algorithm than the main one, made when first needed (the
    RS256 key of ID tokens: RSA keys are slow to make, and most services issue none)."""
    with db.transaction() as session:
        signing.ensure_signing_key(session, store, Actor(SYSTEM_ACTOR, now), alg)
