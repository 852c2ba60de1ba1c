"""Setting up people's sign-in from the CLI: clients for the code flow, an organization's
provider with our client there (its secret sealed, never printed), and consents."""

from __future__ import annotations

from sqlalchemy import select

from entitlements.identity_providers.models import IdentityProvider
from tests.support.cli import Run, as_json, failed, ok


def test_a_web_app_client_for_the_code_flow(cli: Run, org_id: str):
    made = as_json(cli("clients", "create", "--org", org_id, "--grant-type",
                       "authorization_code", "--redirect-uri", "https://app.example/cb",
                       "--json"))
    assert made["grant_types"] == ["authorization_code"]
    assert made["redirect_uris"] == ["https://app.example/cb"] and made["client_secret"]
    native = as_json(cli("clients", "create", "--org", org_id, "--auth-method", "none",
                         "--redirect-uri", "http://127.0.0.1/cb", "--json"))
    assert native["client_secret"] is None and native["grant_types"] == ["authorization_code"]


def test_client_mistakes_are_one_line(cli: Run, org_id: str):
    assert "needs at least one redirect URI" in failed(cli(
        "clients", "create", "--org", org_id, "--grant-type", "authorization_code"))
    assert "must use https" in failed(cli(
        "clients", "create", "--org", org_id, "--grant-type", "authorization_code",
        "--redirect-uri", "http://app.example/cb"))
    assert "may use only: authorization_code" in failed(cli(
        "clients", "create", "--org", org_id, "--auth-method", "none", "--grant-type",
        "client_credentials", "--redirect-uri", "http://127.0.0.1/cb"))


def test_an_organizations_provider_for_sign_in(cli: Run, org_id: str, upstream, tmp_path, db):
    idp = as_json(cli("idps", "register", org_id, upstream.issuer, "--audience", "portal",
                      "--jwks-uri", upstream.issuer + "/jwks", "--json"))
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t-at-the-provider\n")
    output = ok(cli("idps", "sign-in", idp["id"], "--client-id", "ours",
                    "--client-secret-file", str(secret), "--json"))
    assert "s3cr3t" not in output
    enabled = as_json(cli("idps", "list", org_id, "--json"))[0]
    assert enabled["sign_in"] == {"client_id": "ours", "has_client_secret": True,
                                  "authorization_endpoint": upstream.issuer + "/authorize",
                                  "token_endpoint": upstream.issuer + "/token"}
    assert set(enabled["audiences"]) == {"portal", "ours"}
    with db.sessions() as session:
        sealed = session.scalar(select(IdentityProvider.client_secret_sealed))
    assert sealed and "s3cr3t" not in sealed


def test_a_provider_without_discovery_is_refused_in_one_line(cli: Run, org_id: str):
    idp = as_json(cli("idps", "register", org_id, "https://nowhere.invalid", "--audience",
                      "portal", "--jwks-uri", "https://nowhere.invalid/jwks", "--json"))
    assert "discovery document" in failed(cli("idps", "sign-in", idp["id"], "--client-id",
                                              "ours"))


def test_consents_list_and_withdraw(cli: Run):
    assert as_json(cli("consents", "list", "--json")) == []
    assert "no consents match" in ok(cli("consents", "list"))
    assert "no consent with id 99" in failed(cli("consents", "withdraw", "99", "--reason", "x"))
