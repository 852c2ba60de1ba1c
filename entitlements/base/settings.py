"""Typed settings from ``ENTITLEMENTS_*`` environment variables, validated at start.

A wrong value stops start-up with one message naming the variable and the problem.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from limits import parse_many
from marshmallow import Schema, ValidationError, validate, validates
from marshmallow import fields as f

from ..kernel.claims import SIGNING_ALGORITHMS
from .errors import ConfigError
from .urls import is_secure_url

PREFIX = "ENTITLEMENTS_"
EVIDENCE_KINDS = frozenset({"domain", "lei", "agreement"})
#: An evidence list of its own: no evidence is required (an empty variable is unset).
NO_EVIDENCE = "none"
#: Policy actions the two-person rule can cover.
TWO_PERSON_ACTIONS = ("activate", "schedule", "rollback", "reimpose", "allowlist")
POSTGRES_PREFIXES = ("postgresql://", "postgres://", "postgresql+psycopg://",
                     "postgresql+psycopg2://")


@dataclass(frozen=True)
class Settings:
    #: Defaults under ``home()``: the same database and keys from any directory.
    database_url: str = "sqlite:///var/entitlements.sqlite3"
    issuer: str = "http://127.0.0.1:8000"
    keys_dir: str = "keys"
    keys_passphrase: str | None = None
    signing_alg: str = "ES256"
    access_token_ttl: int = 300
    key_prepublish_seconds: int = 600
    jwks_max_age: int = 300
    max_body_bytes: int = 65536
    #: Seconds a request's headers, and then its body, may take to arrive.
    header_timeout: float = 5.0
    body_timeout: float = 10.0
    #: Threads per server process that run requests (their bodies already read).
    server_threads: int = 8
    #: Tokens written together at most, per ledger write (group commit; 1: one at a time).
    ledger_max_batch: int = 64
    client_cache_ttl: float = 1.0
    policy_cache_ttl: float = 0.5
    assertion_max_lifetime: int = 3600
    clock_leeway: int = 30
    id_token_max_lifetime: int = 86400
    log_level: str = "INFO"
    #: ``text`` or ``json`` (one object per line); the access log is off unless asked for.
    log_format: str = "text"
    access_log: bool = False
    #: Serve Prometheus metrics at /metrics (block it at the edge if it must stay inside).
    metrics: bool = True
    #: The SD-JWT VC types (``vct``) a sign-in asks wallets for, comma-separated.
    citizenship_vct: str = "urn:entitlements:vct:citizenship"
    evidence_verified: str = ""
    evidence_trusted: str = "domain,lei,agreement"
    evidence_government_partner: str = "domain,lei,agreement"
    #: Throttling: limits as "N/second;M/minute", counted in Redis when ``redis_url`` is set
    #: (shared by every instance), in each process's memory otherwise.
    rate_limits: bool = True
    rate_limit_address: str = "100/second"
    rate_limit_client: str = "50/second"
    rate_limit_failures: str = "10/minute;100/hour"
    redis_url: str = ""
    #: Proxies in front whose X-Forwarded-For and X-Forwarded-Proto are believed.
    proxy_hops: int = 0
    #: DPoP (RFC 9449): how old a proof's ``iat`` may be (seconds, plus ``clock_leeway``);
    #: server nonces (``use_dpop_nonce``), which every instance checks with one shared
    #: secret, each nonce good for one to two lifetimes.
    dpop_proof_max_age: int = 60
    dpop_nonces: bool = False
    dpop_nonce_secret: str = ""
    dpop_nonce_lifetime: int = 300
    #: The console's single sign-on: the lab's OpenID provider and our client there.
    console_oidc_issuer: str = ""
    console_oidc_client_id: str = ""
    console_oidc_client_secret: str = ""
    #: ``entitlements admins login-link``: ``auto`` (on unless single sign-on is set up),
    #: ``on`` or ``off``.
    console_login_links: str = "auto"
    #: Seconds a console session lives unused, and at most.
    console_idle_timeout: int = 900
    console_session_lifetime: int = 43200
    #: Which policy actions need a second admin's approval (``none`` for none).
    two_person_policy: str = "activate,schedule,rollback,reimpose,allowlist"
    #: Seconds a second admin has to confirm a break-glass kill switch before it lapses.
    break_glass_window: int = 3600
    #: Where notices go: admins' (a break-glass), and malicious-activity reports (a
    #: government recipient); each a URL that takes a JSON POST, or empty for none.
    notify_url: str = ""
    abuse_report_url: str = ""
    #: Signed checkpoints of the audit chains: how often, and where outside the database
    #: they are copied: a directory, an S3-compatible bucket (``s3://BUCKET/PREFIX``, at
    #: ``checkpoint_bucket_endpoint`` when not AWS); empty: the database and the endpoint.
    checkpoint_interval: int = 3600
    checkpoint_dir: str = ""
    checkpoint_bucket: str = ""
    checkpoint_bucket_endpoint: str = ""
    #: Where exported reports are written (default: var/reports under the home).
    reports_dir: str = ""

    @property
    def max_token_ttl(self) -> timedelta:
        """How long a token signed now may be accepted: its lifetime and the leeway."""
        return timedelta(seconds=self.access_token_ttl + self.clock_leeway)

    @property
    def sso_configured(self) -> bool:
        return bool(self.console_oidc_issuer)

    @property
    def login_links_enabled(self) -> bool:
        if self.console_login_links == "auto":
            return not self.sso_configured
        return self.console_login_links == "on"

    def evidence_required(self, level: str) -> frozenset[str]:
        """The evidence kinds that must be verified before reaching trust ``level``."""
        listed = getattr(self, f"evidence_{level}", "")
        return frozenset(kind for kind in listed.split(",") if kind and kind != NO_EVIDENCE)

    @property
    def token_endpoint(self) -> str:
        return self.issuer + "/oauth/token"

    def with_overrides(self, **overrides: Any) -> Settings:
        return replace(self, **overrides)


class _SettingsSchema(Schema):
    database_url = f.String(validate=validate.Length(min=1))
    issuer = f.String()
    keys_dir = f.String(validate=validate.Length(min=1))
    keys_passphrase = f.String(allow_none=True, validate=validate.Length(min=8))
    signing_alg = f.String(validate=validate.OneOf(SIGNING_ALGORITHMS))
    access_token_ttl = f.Integer(strict=False, validate=validate.Range(30, 86400))
    key_prepublish_seconds = f.Integer(strict=False, validate=validate.Range(0, 7 * 86400))
    jwks_max_age = f.Integer(strict=False, validate=validate.Range(0, 86400))
    max_body_bytes = f.Integer(strict=False, validate=validate.Range(1024, 16 * 1024 * 1024))
    header_timeout = f.Float(validate=validate.Range(0.1, 300))
    body_timeout = f.Float(validate=validate.Range(0.1, 300))
    server_threads = f.Integer(strict=False, validate=validate.Range(1, 256))
    ledger_max_batch = f.Integer(strict=False, validate=validate.Range(1, 256))
    client_cache_ttl = f.Float(validate=validate.Range(0, 60))
    policy_cache_ttl = f.Float(validate=validate.Range(0, 5))
    assertion_max_lifetime = f.Integer(strict=False, validate=validate.Range(10, 86400))
    clock_leeway = f.Integer(strict=False, validate=validate.Range(0, 300))
    id_token_max_lifetime = f.Integer(strict=False, validate=validate.Range(60, 7 * 86400))
    log_level = f.String(validate=validate.OneOf(["DEBUG", "INFO", "WARNING", "ERROR"]))
    citizenship_vct = f.String(validate=validate.Length(1, 1000))
    evidence_verified = f.String()
    evidence_trusted = f.String()
    evidence_government_partner = f.String()
    rate_limits = f.Boolean()
    log_format = f.String(validate=validate.OneOf(("text", "json")))
    access_log = f.Boolean()
    metrics = f.Boolean()
    rate_limit_address = f.String()
    rate_limit_client = f.String()
    rate_limit_failures = f.String()
    redis_url = f.String(validate=validate.Regexp(r"^(rediss?|unix)://",
                                                  error="must be a redis://, rediss:// or "
                                                        "unix:// URL"))
    proxy_hops = f.Integer(strict=False, validate=validate.Range(0, 5))
    dpop_proof_max_age = f.Integer(strict=False, validate=validate.Range(5, 600))
    dpop_nonces = f.Boolean()
    dpop_nonce_secret = f.String(validate=validate.Length(min=32, error="must be at least "
                                                                        "32 characters"))
    dpop_nonce_lifetime = f.Integer(strict=False, validate=validate.Range(30, 3600))
    console_oidc_issuer = f.String()
    console_oidc_client_id = f.String(validate=validate.Length(1, 255))
    console_oidc_client_secret = f.String(validate=validate.Length(1, 1000))
    console_login_links = f.String(validate=validate.OneOf(("auto", "on", "off")))
    console_idle_timeout = f.Integer(strict=False, validate=validate.Range(60, 86400))
    console_session_lifetime = f.Integer(strict=False, validate=validate.Range(300, 7 * 86400))
    two_person_policy = f.String()
    break_glass_window = f.Integer(strict=False, validate=validate.Range(60, 7 * 86400))
    notify_url = f.String()
    abuse_report_url = f.String()
    checkpoint_interval = f.Integer(strict=False, validate=validate.Range(60, 7 * 86400))
    checkpoint_dir = f.String()
    checkpoint_bucket = f.String(validate=validate.Regexp(
        r"^(s3://[a-z0-9][a-z0-9.-]{1,62}(/[^\s]*)?)?$",
        error="a checkpoint bucket is s3://BUCKET[/PREFIX]"))
    checkpoint_bucket_endpoint = f.String(validate=validate.Regexp(
        r"^(https?://\S+)?$", error="an endpoint is an http(s) URL"))
    reports_dir = f.String()

    @validates("console_oidc_issuer", "notify_url", "abuse_report_url")
    def _url(self, value: str, **_: Any) -> None:
        if value and not is_secure_url(value):
            raise ValidationError("must be an https URL (http only on loopback)")

    @validates("two_person_policy")
    def _two_person(self, value: str, **_: Any) -> None:
        unknown = {a for a in value.split(",") if a} - set(TWO_PERSON_ACTIONS) - {"none"}
        if unknown:
            raise ValidationError(f"unknown actions {sorted(unknown)}; use a comma list of "
                                  f"{', '.join(TWO_PERSON_ACTIONS)}, or none")

    @validates("rate_limit_address", "rate_limit_client", "rate_limit_failures")
    def _rate_limit(self, value: str, **_: Any) -> None:
        try:
            parse_many(value)
        except ValueError:
            raise ValidationError("must be limits such as '10/minute;100/hour'") from None

    @validates("evidence_verified", "evidence_trusted", "evidence_government_partner")
    def _evidence(self, value: str, **_: Any) -> None:
        unknown = {kind for kind in value.split(",") if kind} - EVIDENCE_KINDS - {NO_EVIDENCE}
        if unknown:
            raise ValidationError(f"unknown evidence kinds {sorted(unknown)}; "
                                  f"use a comma list of {', '.join(sorted(EVIDENCE_KINDS))}")

    @validates("issuer")
    def _issuer(self, value: str, **_: Any) -> None:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValidationError("must be an absolute http(s) URL")
        if parts.query or parts.fragment or value.endswith("/"):
            raise ValidationError("must have no query, fragment or trailing slash (RFC 8414)")
        if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValidationError("must use https unless it is a loopback address")

    @validates("database_url")
    def _database_url(self, value: str, **_: Any) -> None:
        if not value.startswith(("sqlite:", *POSTGRES_PREFIXES)):
            raise ValidationError("must be a sqlite:/// or postgresql:// URL")


def load_settings(
    environ: Mapping[str, str] | None = None, **overrides: Any
) -> Settings:
    """Read settings from the environment (``ENTITLEMENTS_*``), then apply overrides."""
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    for field in fields(Settings):
        value = environ.get(PREFIX + field.name.upper())
        if value is not None and value != "":
            raw[field.name] = value
    raw.update({k: v for k, v in overrides.items() if v is not None})
    where = home(environ)
    raw.setdefault("database_url", f"sqlite:///{where / 'var' / 'entitlements.sqlite3'}")
    raw.setdefault("keys_dir", str(where / "keys"))
    raw.setdefault("reports_dir", str(where / "var" / "reports"))
    try:
        loaded = _SettingsSchema().load(raw)
    except ValidationError as error:
        raise ConfigError(_describe(error.normalized_messages())) from None
    settings = Settings(**loaded)
    if settings.key_prepublish_seconds < settings.jwks_max_age:
        raise ConfigError(
            f"{PREFIX}KEY_PREPUBLISH_SECONDS ({settings.key_prepublish_seconds}) must be at least "
            f"{PREFIX}JWKS_MAX_AGE ({settings.jwks_max_age}), or cached JWKS miss new keys"
        )
    sso = (settings.console_oidc_issuer, settings.console_oidc_client_id,
           settings.console_oidc_client_secret)
    if any(sso) and not all(sso):
        raise ConfigError(f"{PREFIX}CONSOLE_OIDC_ISSUER, {PREFIX}CONSOLE_OIDC_CLIENT_ID and "
                          f"{PREFIX}CONSOLE_OIDC_CLIENT_SECRET go together: set all three")
    if settings.dpop_nonces and not settings.dpop_nonce_secret:
        raise ConfigError(f"{PREFIX}DPOP_NONCES needs {PREFIX}DPOP_NONCE_SECRET (at least 32 "
                          "characters, the same on every instance)")
    return replace(settings, database_url=normalize_database_url(settings.database_url))


def home(environ: Mapping[str, str]) -> Path:
    """Where the default database (``var/``) and keys (``keys/``) live: ENTITLEMENTS_HOME;
    else the source checkout this package runs from; else the user's data folder
    ($XDG_DATA_HOME/entitlements, ~/.local/share/entitlements). Never the current
    directory, so every command finds the same ones."""
    if environ.get(PREFIX + "HOME"):
        return Path(environ[PREFIX + "HOME"]).expanduser().resolve()
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "entitlements").is_dir():
        return checkout
    data = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "entitlements"


def normalize_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever driver the URL names."""
    for prefix in POSTGRES_PREFIXES:
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _describe(messages: Mapping[str, Any]) -> str:
    name, problems = next(iter(sorted(messages.items())))
    problem = problems[0] if isinstance(problems, list) else problems
    return f"{PREFIX}{name.upper()}: {problem}"
