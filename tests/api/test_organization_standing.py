"""Only a verified organization's clients get tokens, and its live tokens stay active only
while it is verified."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from entitlements.audit.models import AuditEvent
from entitlements.clients import service as clients
from entitlements.oauth.client_record import ORGANIZATION_NOT_VERIFIED
from entitlements.operations import organizations as operations
from entitlements.organizations import service as organizations
from entitlements.organizations.models import OrganizationStatus
from entitlements.policy import service as policy
from entitlements.tokens.models import IssuedToken
from tests.support.factories import Partner
from tests.support.helpers import basic

TOKEN = "/oauth/token"
INTROSPECT = "/oauth/introspect"
INACTIVE = {"active": False}

#: The lifecycle actions that bring a fresh application to each status.
PATH_TO = {
    "applied": (),
    "under_review": ("review",),
    "verified": ("review", "verify"),
    "suspended": ("review", "verify", "suspend"),
    "revoked": ("review", "verify", "revoke"),
    "revoked_application": ("revoke",),
}


def partner_in(admin, status: str, name: str = "Acme Labs") -> Partner:
    """A client of an organization that applied and was moved to ``status``."""
    admin.gateway()
    with admin.db.transaction() as session:
        org_id = organizations.apply(session, admin.actor(), name, "NL").id
        for action in PATH_TO[status]:
            organizations.move(session, admin.actor(), org_id, action, f"to {action}")
        policy.grant_tier(session, admin.actor(), org_id, "public")
        registration = clients.register(session, admin.actor(), org_id, name="x")
        return Partner(org_id, registration.client.client_id, registration.client_secret)


def move(admin, org_id: str, action: str) -> None:
    with admin.db.transaction() as session:
        operations.move(session, admin.actor(), org_id, action, f"test {action}")


def get_token(client, partner: Partner) -> Any:
    return client.post(TOKEN, data={"grant_type": "client_credentials"},
                       headers=basic(partner.client_id, partner.client_secret))


def introspect(client, token: str, partner: Partner) -> Any:
    return client.post(INTROSPECT, data={"token": token},
                       headers=basic(partner.client_id, partner.client_secret))


def token_rows(db) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(IssuedToken))


def refusals(db, action: str) -> list[AuditEvent]:
    with db.sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                    .order_by(AuditEvent.seq)))


def assert_invalid_client(response: Any, status: OrganizationStatus) -> None:
    assert response.status_code == 401
    assert response.get_json() == {"error": "invalid_client",
                                   "error_description": ORGANIZATION_NOT_VERIFIED[status]}
    assert response.headers["WWW-Authenticate"].startswith("Basic ")


@pytest.mark.parametrize(("status", "shown_as"), [
    pytest.param("applied", OrganizationStatus.APPLIED, id="applied"),
    pytest.param("under_review", OrganizationStatus.UNDER_REVIEW, id="under-review"),
    pytest.param("suspended", OrganizationStatus.SUSPENDED, id="suspended"),
    pytest.param("revoked", OrganizationStatus.REVOKED, id="revoked"),
    pytest.param("revoked_application", OrganizationStatus.REVOKED, id="revoked-application"),
])
def test_unverified_organization_gets_no_token(client, admin, db, status: str,
                                               shown_as: OrganizationStatus):
    partner = partner_in(admin, status)
    response = get_token(client, partner)
    assert_invalid_client(response, shown_as)
    assert "access_token" not in response.get_json()
    assert token_rows(db) == 0
    [event] = refusals(db, "grant.refused")
    assert event.outcome == "failure"
    assert event.reason == f"invalid_client: {ORGANIZATION_NOT_VERIFIED[shown_as]}"
    assert event.details["claimed_client_id"] == partner.client_id


def test_the_descriptions_name_each_status():
    assert ORGANIZATION_NOT_VERIFIED[OrganizationStatus.APPLIED] == (
        "The client's organization is not verified yet.")
    assert ORGANIZATION_NOT_VERIFIED[OrganizationStatus.UNDER_REVIEW] == (
        "The client's organization is not verified yet.")
    assert ORGANIZATION_NOT_VERIFIED[OrganizationStatus.SUSPENDED] == (
        "The client's organization is suspended.")
    assert ORGANIZATION_NOT_VERIFIED[OrganizationStatus.REVOKED] == (
        "The client's organization is revoked.")


def test_verification_opens_the_token_endpoint(client, admin, db):
    """The client registered while the organization applied works once it is verified."""
    partner = partner_in(admin, "applied")
    assert get_token(client, partner).status_code == 401
    move(admin, partner.org_id, "review")
    assert_invalid_client(get_token(client, partner), OrganizationStatus.UNDER_REVIEW)
    move(admin, partner.org_id, "verify")
    response = get_token(client, partner)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["scope"] == "tier:public"
    assert token_rows(db) == 1


def test_suspension_and_reinstatement_at_the_token_endpoint(client, admin, db):
    partner = partner_in(admin, "verified")
    assert get_token(client, partner).status_code == 200
    move(admin, partner.org_id, "suspend")
    assert_invalid_client(get_token(client, partner), OrganizationStatus.SUSPENDED)
    assert token_rows(db) == 1
    move(admin, partner.org_id, "reinstate")
    response = get_token(client, partner)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["token_type"] == "Bearer"
    assert token_rows(db) == 2


def test_suspension_revokes_live_tokens_and_reinstatement_allows_new_ones(client, admin):
    """Suspension revokes the tokens issued before it (their status-list bits flip, so
    offline gateways stop honouring them too); after reinstatement they stay revoked and
    new tokens work.

    While suspended, the organization's own client cannot authenticate at introspection
    at all (401), so a gateway client of another organization checks the token then.
    """
    partner = partner_in(admin, "verified")
    gateway = admin.client(admin.org("Gateway Operator"), may_introspect=True)
    token = get_token(client, partner).get_json()["access_token"]
    own = introspect(client, token, partner)
    assert own.status_code == 200
    assert own.get_json()["active"] is True and own.get_json()["client_id"] == partner.client_id
    jti = own.get_json()["jti"]

    move(admin, partner.org_id, "suspend")
    assert introspect(client, token, gateway).get_json() == INACTIVE
    assert_invalid_client(introspect(client, token, partner), OrganizationStatus.SUSPENDED)

    move(admin, partner.org_id, "reinstate")
    assert introspect(client, token, gateway).get_json() == INACTIVE
    fresh = get_token(client, partner).get_json()["access_token"]
    for caller in (partner, gateway):
        response = introspect(client, fresh, caller)
        assert response.status_code == 200
        assert response.get_json()["active"] is True
        assert response.get_json()["jti"] != jti


def test_revocation_ends_a_live_token_for_good(client, admin):
    partner = partner_in(admin, "verified")
    gateway = admin.client(admin.org("Gateway Operator"), may_introspect=True)
    token = get_token(client, partner).get_json()["access_token"]
    assert introspect(client, token, gateway).get_json()["active"] is True
    move(admin, partner.org_id, "revoke")
    assert introspect(client, token, gateway).get_json() == INACTIVE
    assert_invalid_client(introspect(client, token, partner), OrganizationStatus.REVOKED)
    assert_invalid_client(get_token(client, partner), OrganizationStatus.REVOKED)
