"""Settings from ENTITLEMENTS_* variables: defaults, validation, URL normalisation."""

from __future__ import annotations

from pathlib import Path

import pytest

from entitlements.base.errors import ConfigError
from entitlements.base.settings import Settings, load_settings, normalize_database_url


def test_defaults():
    settings = load_settings({"ENTITLEMENTS_HOME": "/srv/entitlements"})
    assert settings == Settings(database_url="sqlite:////srv/entitlements/var/entitlements.sqlite3",
                                keys_dir="/srv/entitlements/keys",
                                reports_dir="/srv/entitlements/var/reports")
    assert settings.issuer == "http://127.0.0.1:8000"
    assert settings.token_endpoint == "http://127.0.0.1:8000/oauth/token"
    assert (settings.signing_alg, settings.access_token_ttl) == ("ES256", 300)
    assert settings.key_prepublish_seconds >= settings.jwks_max_age
    assert (settings.max_body_bytes, settings.assertion_max_lifetime) == (65536, 3600)


def test_default_paths_do_not_depend_on_the_current_directory(tmp_path, monkeypatch):
    """From the source checkout, its var/ and keys/; wherever the command runs."""
    checkout = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(tmp_path)
    settings = load_settings({})
    assert settings.database_url == f"sqlite:///{checkout}/var/entitlements.sqlite3"
    assert settings.keys_dir == str(checkout / "keys")
    assert load_settings({"ENTITLEMENTS_KEYS_DIR": "mine"}).keys_dir == "mine"


def test_values_are_read_and_typed():
    settings = load_settings({
        "ENTITLEMENTS_ISSUER": "https://id.example.com",
        "ENTITLEMENTS_ACCESS_TOKEN_TTL": "600",
        "ENTITLEMENTS_CLIENT_CACHE_TTL": "2.5",
        "ENTITLEMENTS_SIGNING_ALG": "EdDSA",
        "ENTITLEMENTS_KEYS_PASSPHRASE": "correct horse",
        "UNRELATED": "ignored",
    })
    assert settings.issuer == "https://id.example.com"
    assert settings.access_token_ttl == 600 and settings.client_cache_ttl == 2.5
    assert settings.signing_alg == "EdDSA" and settings.keys_passphrase == "correct horse"


def test_empty_values_mean_default_and_overrides_win():
    settings = load_settings({"ENTITLEMENTS_ISSUER": "", "ENTITLEMENTS_ACCESS_TOKEN_TTL": "600"},
                             access_token_ttl=120, keys_dir=None)
    assert settings.issuer == Settings.issuer
    assert settings.access_token_ttl == 120
    assert settings.keys_dir == load_settings({}).keys_dir


@pytest.mark.parametrize(("name", "value"), [
    pytest.param("ISSUER", "http://localhost:8000", id="http-localhost"),
    pytest.param("ISSUER", "http://[::1]:8000", id="http-ipv6-loopback"),
    pytest.param("ISSUER", "https://id.example.com/tenant", id="https-with-path"),
    pytest.param("ACCESS_TOKEN_TTL", "30", id="ttl-lower-bound"),
    pytest.param("ACCESS_TOKEN_TTL", "86400", id="ttl-upper-bound"),
    pytest.param("SIGNING_ALG", "RS256", id="rs256"),
    pytest.param("DATABASE_URL", "sqlite:///:memory:", id="sqlite-memory"),
    pytest.param("LEDGER_MAX_BATCH", "1", id="group-commit-off"),
    pytest.param("LEDGER_MAX_BATCH", "256", id="group-commit-largest"),
])
def test_accepted_values(name, value):
    settings = load_settings({f"ENTITLEMENTS_{name}": value})
    assert str(getattr(settings, name.lower())) == value


@pytest.mark.parametrize(("env", "variable", "problem"), [
    pytest.param({"ISSUER": "https://id.example.com/"}, "ISSUER", "trailing slash",
                 id="issuer-trailing-slash"),
    pytest.param({"ISSUER": "https://id.example.com?tenant=1"}, "ISSUER", "no query",
                 id="issuer-query"),
    pytest.param({"ISSUER": "https://id.example.com#top"}, "ISSUER", "fragment",
                 id="issuer-fragment"),
    pytest.param({"ISSUER": "id.example.com"}, "ISSUER", "absolute http(s) URL",
                 id="issuer-no-scheme"),
    pytest.param({"ISSUER": "ftp://id.example.com"}, "ISSUER", "absolute http(s) URL",
                 id="issuer-ftp"),
    pytest.param({"ISSUER": "http://id.example.com"}, "ISSUER", "must use https",
                 id="issuer-http-not-loopback"),
    pytest.param({"ISSUER": "http://localhost.evil.test"}, "ISSUER", "must use https",
                 id="issuer-http-lookalike-loopback"),
    pytest.param({"ACCESS_TOKEN_TTL": "five minutes"}, "ACCESS_TOKEN_TTL", "Not a valid integer",
                 id="ttl-not-a-number"),
    pytest.param({"ACCESS_TOKEN_TTL": "1.5"}, "ACCESS_TOKEN_TTL", "Not a valid integer",
                 id="ttl-fraction"),
    pytest.param({"ACCESS_TOKEN_TTL": "29"}, "ACCESS_TOKEN_TTL", "greater than or equal to 30",
                 id="ttl-too-short"),
    pytest.param({"ACCESS_TOKEN_TTL": "86401"}, "ACCESS_TOKEN_TTL", "less than or equal to",
                 id="ttl-too-long"),
    pytest.param({"CLIENT_CACHE_TTL": "nan"}, "CLIENT_CACHE_TTL", "not permitted",
                 id="cache-ttl-nan"),
    pytest.param({"CLOCK_LEEWAY": "-1"}, "CLOCK_LEEWAY", "greater than or equal to 0",
                 id="negative-leeway"),
    pytest.param({"MAX_BODY_BYTES": "100"}, "MAX_BODY_BYTES", "greater than or equal to",
                 id="body-limit-too-small"),
    pytest.param({"SIGNING_ALG": "HS256"}, "SIGNING_ALG", "ES256, EdDSA, RS256",
                 id="unknown-signing-alg"),
    pytest.param({"SIGNING_ALG": "es256"}, "SIGNING_ALG", "Must be one of",
                 id="signing-alg-wrong-case"),
    pytest.param({"LOG_LEVEL": "TRACE"}, "LOG_LEVEL", "Must be one of", id="unknown-log-level"),
    pytest.param({"KEYS_PASSPHRASE": "short"}, "KEYS_PASSPHRASE", "minimum length 8",
                 id="short-passphrase"),
    pytest.param({"KEY_PREPUBLISH_SECONDS": "100"}, "KEY_PREPUBLISH_SECONDS",
                 "must be at least ENTITLEMENTS_JWKS_MAX_AGE", id="prepublish-below-jwks-max-age"),
    pytest.param({"KEY_PREPUBLISH_SECONDS": "600", "JWKS_MAX_AGE": "601"},
                 "KEY_PREPUBLISH_SECONDS", "ENTITLEMENTS_JWKS_MAX_AGE (601)",
                 id="jwks-max-age-above-prepublish"),
    pytest.param({"DATABASE_URL": "mysql://db/entitlements"}, "DATABASE_URL",
                 "sqlite:/// or postgresql:// URL", id="database-url-mysql"),
    pytest.param({"LEDGER_MAX_BATCH": "0"}, "LEDGER_MAX_BATCH", "greater than or equal to 1",
                 id="ledger-batch-zero"),
    pytest.param({"DATABASE_URL": "entitlements.sqlite3"}, "DATABASE_URL",
                 "sqlite:/// or postgresql:// URL", id="database-url-bare-path"),
    pytest.param({"DATABASE_URL": "postgresql+asyncpg://db/entitlements"}, "DATABASE_URL",
                 "sqlite:/// or postgresql:// URL", id="database-url-other-postgres-driver"),
])
def test_invalid_values_name_the_variable(env, variable, problem):
    with pytest.raises(ConfigError) as raised:
        load_settings({f"ENTITLEMENTS_{k}": v for k, v in env.items()})
    message = str(raised.value)
    assert message.startswith(f"ENTITLEMENTS_{variable}")
    assert problem in message
    assert raised.value.code == "config_error"


def test_overrides_are_validated_too():
    with pytest.raises(ConfigError, match=r"^ENTITLEMENTS_ISSUER: "):
        load_settings({}, issuer="https://id.example.com/")


@pytest.mark.parametrize(("url", "expected"), [
    pytest.param("postgres://u:p@db:5432/ent", "postgresql+psycopg://u:p@db:5432/ent",
                 id="postgres"),
    pytest.param("postgresql://u@db/ent", "postgresql+psycopg://u@db/ent", id="postgresql"),
    pytest.param("postgresql+psycopg2://u@db/ent", "postgresql+psycopg://u@db/ent",
                 id="psycopg2"),
    pytest.param("postgresql+psycopg://u@db/ent", "postgresql+psycopg://u@db/ent",
                 id="already-psycopg3"),
    pytest.param("sqlite:///var/x.sqlite3", "sqlite:///var/x.sqlite3", id="sqlite-untouched"),
])
def test_postgres_urls_use_psycopg3(url, expected):
    assert normalize_database_url(url) == expected
    assert load_settings({"ENTITLEMENTS_DATABASE_URL": url}).database_url == expected


def test_evidence_requirements_are_configuration():
    settings = load_settings({"ENTITLEMENTS_EVIDENCE_TRUSTED": "lei,agreement"})
    assert settings.evidence_required("trusted") == {"lei", "agreement"}
    assert settings.evidence_required("government_partner") == {"domain", "lei", "agreement"}
    assert settings.evidence_required("verified") == frozenset()


def test_unknown_evidence_kinds_are_refused():
    with pytest.raises(ConfigError) as raised:
        load_settings({"ENTITLEMENTS_EVIDENCE_GOVERNMENT_PARTNER": "lei,passport"})
    assert str(raised.value).startswith("ENTITLEMENTS_EVIDENCE_GOVERNMENT_PARTNER")
    assert "passport" in str(raised.value)


def test_none_requires_no_evidence():
    """An empty variable means the default, so requiring nothing is said with ``none``."""
    settings = load_settings({"ENTITLEMENTS_EVIDENCE_TRUSTED": "none",
                              "ENTITLEMENTS_EVIDENCE_GOVERNMENT_PARTNER": ""})
    assert settings.evidence_required("trusted") == frozenset()
    assert settings.evidence_required("government_partner") == {"domain", "lei", "agreement"}
