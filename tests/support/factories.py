"""Test data made through the real services (never raw inserts), so audit rows exist too."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from entitlements.admins import service as admins
from entitlements.admins.models import Admin as AdminModel
from entitlements.attestations import issuers
from entitlements.attestations.models import VerifiedAttestation
from entitlements.base.actor import Actor
from entitlements.base.clock import FrozenClock
from entitlements.base.db import Database
from entitlements.base.discovery import discover
from entitlements.base.ids import new_id
from entitlements.base.sealing import Sealer
from entitlements.clients import service as clients
from entitlements.identity_providers import service as idps
from entitlements.operations import clients as client_operations
from entitlements.operations import organizations as operations
from entitlements.organizations import evidence
from entitlements.organizations import service as organizations
from entitlements.persons import service as persons
from entitlements.policy import service as policy
from entitlements.resources import service as resources
from tests.support.fakes import FakeResolver

GATEWAY = "https://gateway.test/models"
VERIFIER = "https://verifier.test"
OTHER_GATEWAY = "https://other-gateway.test/models"


@dataclass
class Partner:
    org_id: str
    client_id: str
    client_secret: str | None = None
    private_key: Any = None
    kid: str | None = None


def client_keypair(kid: str = "client-key-1") -> tuple[ec.EllipticCurvePrivateKey, dict]:
    private = ec.generate_private_key(ec.SECP256R1())
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    return private, {"keys": [{**public, "kid": kid, "use": "sig", "alg": "ES256"}]}


class Admin:
    """Drives the services as an admin would, with the test's clock."""

    def __init__(self, db: Database, clock: FrozenClock, keys_dir: Path) -> None:
        self.db, self.clock, self.keys_dir = db, clock, keys_dir

    def actor(self, name: str = "admin:test") -> Actor:
        return Actor(name, self.clock.now())

    def gateway(self, identifier: str = GATEWAY, *, default: bool = True) -> str:
        with self.db.transaction() as session:
            resources.register(session, self.actor(), identifier, "test gateway",
                               default=default)
        return identifier

    def org(self, name: str = "Acme Labs", tiers: tuple[str, ...] = ("public",),
            trust: str = "verified") -> str:
        with self.db.transaction() as session:
            org = organizations.create(session, self.actor(), name, trust)
            session.flush()
            for tier in tiers:
                policy.grant_tier(session, self.actor(), org.id, tier)
            return org.id

    def raise_trust(self, org_id: str, level: str) -> None:
        """Two admins: one requests, the other approves (the two-person rule)."""
        with self.db.transaction() as session:
            request = organizations.request_trust(session, self.actor("admin:alice"), org_id,
                                                  level, "test")
            organizations.approve_trust(session, self.actor("admin:bob"), request.id, "agreed")

    def identity_provider(self, org_id: str, issuer: str, audience: str = "portal") -> Any:
        """Register the organization's IdP; returns its private key (for ID tokens)."""
        private, jwks = client_keypair("idp-1")
        with self.db.transaction() as session:
            idps.register(session, self.actor(), org_id, issuer=issuer, audiences=[audience],
                          jwks=jwks)
        return private

    def verified_domain(self, org_id: str, domain: str) -> None:
        """The organization proves ``domain`` through the real DNS challenge (faked DNS)."""
        resolver = FakeResolver()
        with self.db.transaction() as session:
            challenge = evidence.start_domain_challenge(session, self.actor(), org_id, domain)
            resolver.records[challenge.details["record"]] = [challenge.details["value"]]
            evidence.check_domain(session, self.actor(), challenge.id, resolver)

    def sign_in_provider(self, org_id: str, upstream: Any, callback: str) -> str:
        """Register the organization's own provider (``tests.support.upstream``) for
        people's sign-in, with our client there; its id."""
        ours = upstream.register_client(callback)
        with self.db.transaction() as session:
            row = idps.register(session, self.actor(), org_id, issuer=upstream.issuer,
                                audiences=[ours.client_id], jwks_uri=upstream.issuer + "/jwks")
            session.flush()
            idps.enable_sign_in(session, self.actor(), row.id, client_id=ours.client_id,
                                client_secret=ours.client_secret,
                                endpoints=discover(upstream.issuer),
                                sealer=Sealer(self.keys_dir))
            return row.id

    def person(self, org_id: str, idp_issuer: str, subject: str, *,
               nationalities: tuple[str, ...] = (), level: str = "high",
               valid_for: timedelta = timedelta(days=300)) -> str:
        """A person, with a verified citizenship fact when ``nationalities`` are given (the
        attestation path itself is tested on its own)."""
        with self.db.transaction() as session:
            person = persons.create(session, self.actor(), org_id, idp_issuer=idp_issuer,
                                    idp_subject=subject)
            session.flush()
            if nationalities:
                session.add(VerifiedAttestation(
                    id=new_id("att"), person_id=person.id,
                    issuer_id=self._verifier(session), credential_id=new_id("cred"),
                    nationalities=list(nationalities), assurance_level=level,
                    verified_at=self.clock.now() - timedelta(days=1),
                    expires_at=self.clock.now() + valid_for, evidence_sha256="0" * 64,
                    recorded_at=self.clock.now()))
            return person.id

    def _verifier(self, session: Any) -> str:
        found = issuers.find_by_issuer(session, VERIFIER)
        if found is None:
            _, jwks = client_keypair("verifier-1")
            found = issuers.register(session, self.actor(), issuer=VERIFIER, name="Verifier",
                                     jwks=jwks, formats=["jwt", "sd-jwt-vc"],
                                     nationalities=["US", "CA", "GB"],
                                     assurance_levels=["low", "substantial", "high"],
                                     max_age_days=365)
            session.flush()
        return found.id

    def client(self, org_id: str, auth_method: str = "client_secret_basic", **kwargs: Any
               ) -> Partner:
        with self.db.transaction() as session:
            registration = clients.register(session, self.actor(), org_id, name="test client",
                                            auth_method=auth_method, **kwargs)
            return Partner(org_id, registration.client.client_id, registration.client_secret)

    def partner(self, name: str = "Acme Labs", tiers: tuple[str, ...] = ("public",),
                auth_method: str = "client_secret_basic", **kwargs: Any) -> Partner:
        org_id = self.org(name, tiers)
        if auth_method == "private_key_jwt" and "jwks" not in kwargs and "jwks_uri" not in kwargs:
            private, jwks = client_keypair()
            partner = self.client(org_id, auth_method, jwks=jwks, **kwargs)
            partner.private_key, partner.kid = private, jwks["keys"][0]["kid"]
            return partner
        return self.client(org_id, auth_method, **kwargs)

    def suspend(self, org_id: str) -> None:
        with self.db.transaction() as session:
            operations.suspend(session, self.actor(), org_id, "test")

    def revoke_client(self, client_id: str) -> None:
        with self.db.transaction() as session:
            client_operations.revoke(session, self.actor(), client_id, "test")


def admin_key(session: Any, now: Any, name: str, roles: tuple[str, ...] = ("owner",)
              ) -> admins.IssuedKey:
    """An API key for admin ``name`` (added with ``roles`` when new), acting with ``roles``."""
    actor = Actor("cli:root", now)
    if session.get(AdminModel, name) is None:
        admins.add(session, actor, name, roles)
        session.flush()
    return admins.issue(session, actor, name, roles)
