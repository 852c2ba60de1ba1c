"""The Flask application factory: settings, extensions, blueprints, error handlers."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask, jsonify

from . import __version__
from .admin import openapi
from .attestations import partner_views as partner_attestations
from .attestations import views as issuer_views
from .attestations.service import Verifiers
from .attestations.status import CredentialStatus
from .audit import views as audit_views
from .clients import views as client_views
from .clock import Clock, SystemClock
from .config import Settings, load_settings
from .db import Database
from .identity_providers import views as idp_views
from .migrations_check import require_current_schema
from .oauth import views as oauth_views
from .oauth.server import EntitlementsServer
from .organizations import evidence_views
from .organizations import views as organization_views
from .organizations.domains import DnsPythonResolver
from .organizations.lei import GleifRegistry
from .organizations.service import Actor
from .persons import views as person_views
from .policy import partner_views as policy_partner_views
from .policy import views as policy_views
from .policy.snapshot import PolicySnapshotPublisher
from .remote_jwks import RemoteJwks
from .signing import service as signing
from .signing.keyring import KeyRingCache
from .signing.keystore import FileKeyStore
from .token_status import views as published_views
from .token_status.publisher import StatusListPublisher
from .web import handlers

SYSTEM_ACTOR = "system"


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
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes, JSON_SORT_KEYS=False)
    store = FileKeyStore(settings.keys_dir, settings.keys_passphrase)
    with db.transaction() as session:
        signing.ensure_signing_key(session, store, Actor(SYSTEM_ACTOR, clock.now()),
                                   settings.signing_alg)
    ttl = timedelta(seconds=settings.access_token_ttl + settings.clock_leeway)
    keys = KeyRingCache(lambda: _load_ring(db, store, ttl))
    app.extensions["entitlements.settings"] = settings
    app.extensions["entitlements.db"] = db
    app.extensions["entitlements.clock"] = clock
    remote_jwks = remote_jwks or RemoteJwks()
    app.extensions["entitlements.oauth"] = EntitlementsServer(
        db=db, settings=settings, clock=clock, keys=keys, remote_jwks=remote_jwks,
    )
    app.extensions["entitlements.verifiers"] = Verifiers(remote_jwks, CredentialStatus())
    oauth = app.extensions["entitlements.oauth"]
    app.extensions["entitlements.status_lists"] = StatusListPublisher(db, keys, settings, clock)
    app.extensions["entitlements.policy_snapshot"] = PolicySnapshotPublisher(
        oauth.policies, keys, settings, clock)
    app.register_blueprint(published_views.blueprint)
    app.register_blueprint(policy_partner_views.blueprint)
    app.register_blueprint(oauth_views.blueprint)
    app.register_blueprint(partner_attestations.blueprint)
    app.extensions["entitlements.dns"] = DnsPythonResolver()
    app.extensions["entitlements.lei_registry"] = GleifRegistry()
    for blueprint in (organization_views.blueprint, evidence_views.blueprint,
                      person_views.blueprint, issuer_views.blueprint, idp_views.blueprint,
                      policy_views.blueprint,
                      client_views.blueprint, audit_views.blueprint, openapi.blueprint):
        app.register_blueprint(blueprint)
    app.add_url_rule("/healthz", "healthz", _healthz)
    handlers.register(app)
    return app


def _load_ring(db: Database, store: FileKeyStore, ttl: timedelta) -> signing.KeyRing:
    with db.sessions() as session:
        return signing.load_ring(session, store, ttl)


def _healthz() -> object:
    return jsonify(status="ok", version=__version__)
