"""The admin API, the token endpoint and the database of one test, driven as an admin and a
partner would (the policy, revocation and explain tests share it)."""

from __future__ import annotations

import uuid
from typing import Any

import jwt
from sqlalchemy import func, select

from entitlements.audit.models import AuditEvent
from entitlements.audit.service import STREAM_OPENED
from entitlements.policy.models import PolicyActivation, PolicyVersion
from entitlements.tokens.models import IssuedToken
from tests.support.factories import admin_key
from tests.support.helpers import basic

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
IDP = "https://login.a.example"
PROBLEM = "application/problem+json"
VERIFIED = ["government_partner", "trusted", "verified"]

DOC = {
    "tiers": {"public": {"description": "for everyone"},
              "restricted": {"description": "sensitive"},
              "early-access": {"status": "suspended"}},
    "models": {"base-1": {"tier": "public"},
               "frontier-2": {"tier": "restricted", "fallback": "base-1"},
               "preview-3": {"tier": "early-access", "fallback": "frontier-2"}},
}
CITIZENS_ONLY = {"tiers": {"restricted": {"citizenship": {
    "nationalities": ["US"], "min_level": "substantial", "organization_subjects": "deny"}}}}


class Api:
    """The admin API, the token endpoint and the database, for one test."""

    def __init__(self, client, admin, db, clock, name: str = "alice",
                 roles: tuple[str, ...] = ("owner",)) -> None:
        self.client, self.admin, self.db, self.clock = client, admin, db, clock
        self.name = f"admin:{name}"
        with db.transaction() as session:
            key = admin_key(session, clock.now(), name, roles).secret
        self.headers = {"Authorization": f"Bearer {key}"}

    def raw(self, method: str, path: str, **kwargs: Any):
        return self.client.open("/admin" + path, method=method, headers=self.headers,
                                **kwargs)

    def __call__(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        response = self.raw(method, path, json=body)
        assert response.status_code == expect, response.get_json()
        return response.get_json()

    def problem(self, method: str, path: str, body: Any, status: int, code: str) -> dict:
        response = self.raw(method, path, json=body)
        assert response.status_code == status, response.get_json()
        assert response.mimetype == PROBLEM
        problem = response.get_json()
        assert problem["type"] == f"urn:entitlements:problem:{code}", problem
        assert problem["status"] == status
        return problem

    def activation(self, activation_id: int) -> dict[str, Any]:
        """One activation, as the policy state lists it."""
        [found] = [a for a in self("GET", "/policy")["activations"] if a["id"] == activation_id]
        return found

    def audit(self, action: str, target: str | None = None) -> list[dict[str, Any]]:
        """The audit events of ``action`` (on ``target``), newest first, from the API."""
        items = self("GET", f"/audit?action={action}")["items"]
        return [e for e in items if target is None or e["target"] == target]

    def latest(self) -> int:
        return self("GET", "/policy")["latest_version"]

    def active(self) -> int:
        return self("GET", "/policy")["active_version"]

    def new_version(self, reason: str, *, document=None, patch=None, **extra: Any) -> dict:
        body = {"base_version": self.latest(), "reason": reason, **extra}
        body.update({"document": document} if document is not None else {"patch": patch})
        return self("POST", "/policy/versions", body, 201)

    def token(self, partner, scope: str | None = None) -> dict:
        form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
        response = self.client.post("/oauth/token", data=form,
                                    headers=basic(partner.client_id, partner.client_secret))
        assert response.status_code == 200, response.get_json()
        return claims(response.get_json()["access_token"]) | {
            "access_token": response.get_json()["access_token"]}

    def person_token(self, partner, idp_key, subject: str, scope: str | None = None) -> dict:
        now = int(self.clock.now().timestamp())
        id_token = jwt.encode({"iss": IDP, "sub": subject, "aud": "portal", "iat": now,
                               "exp": now + 300, "jti": uuid.uuid4().hex},
                              idp_key, algorithm="ES256", headers={"kid": "idp-1"})
        form = {"grant_type": EXCHANGE, "subject_token": id_token,
                "subject_token_type": ID_TOKEN, **({"scope": scope} if scope else {})}
        response = self.client.post("/oauth/token", data=form,
                                    headers=basic(partner.client_id, partner.client_secret))
        assert response.status_code == 200, response.get_json()
        return claims(response.get_json()["access_token"]) | {
            "access_token": response.get_json()["access_token"]}

    def events(self, action: str | None = None) -> list[AuditEvent]:
        with self.db.sessions() as session:
            rows = session.scalars(select(AuditEvent).where(AuditEvent.stream == "main")
                                   .order_by(AuditEvent.seq)).all()
            session.expunge_all()
        return [r for r in rows if action is None or r.action == action]

    def written(self) -> tuple[int, int, int, int]:
        """How many versions, activations, main audit events (not the announcements of the
        streams refusals open as they first write) and revoked tokens exist."""
        with self.db.sessions() as session:
            return (session.scalar(select(func.count()).select_from(PolicyVersion)),
                    session.scalar(select(func.count()).select_from(PolicyActivation)),
                    session.scalar(select(func.count()).select_from(AuditEvent)
                                   .where(AuditEvent.stream == "main",
                                          AuditEvent.action != STREAM_OPENED)),
                    session.scalar(select(func.count()).select_from(IssuedToken)
                                   .where(IssuedToken.revoked_at.is_not(None))))

    def revoked(self, *tokens: dict) -> list[bool]:
        with self.db.sessions() as session:
            return [session.get(IssuedToken, t["jti"]).revoked_at is not None for t in tokens]


def staff_of(kind: type[Api], roles: dict[str, tuple[str, ...]], client, admin, db, clock
             ) -> dict[str, Any]:
    """The admin API as each admin of ``roles`` (name: roles), each driven by ``kind``."""
    return {name: kind(client, admin, db, clock, name, held) for name, held in roles.items()}


def claims(access_token: str) -> dict:
    return jwt.decode(access_token, options={"verify_signature": False})


def tiers_of(token: dict) -> list[str]:
    return token["entitlements"]


def make_cast(api: Api, admin, db, clock) -> dict[str, Any]:
    """Organizations A (trusted, with an IdP, a citizen and a stranger) and B (verified),
    each with a client, under DOC (version 2, active)."""
    admin.gateway()
    parties: dict[str, Any] = {"A": admin.partner("Org A", tiers=()),
                               "B": admin.partner("Org B", tiers=())}
    admin.raise_trust(parties["A"].org_id, "trusted")
    idp_key = admin.identity_provider(parties["A"].org_id, IDP)
    parties["citizen"] = admin.person(parties["A"].org_id, IDP, "citizen",
                                      nationalities=("US",))
    parties["stranger"] = admin.person(parties["A"].org_id, IDP, "stranger")
    parties["idp_key"] = idp_key
    created = api.new_version("the test policy", document=DOC, activate_now=True)
    parties["version"] = created["version"]["version"]
    return parties
