"""What an audit event acts on: a plain id, its kind in a field of its own, and the
organization it concerns, so a search by organization, client or person finds every event
about it whatever the action."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

#: The kinds of things events act on.
KINDS = ("organization", "client", "person", "token", "refresh_family", "policy_version",
         "policy_activation", "policy_change", "break_glass", "tier", "signing_key", "admin",
         "admin_key", "attestation_issuer", "identity_provider", "resource", "consent",
         "trust_request", "evidence", "audit_stream", "report", "abuse_report", "checkpoint",
         "notice")


@dataclass(frozen=True)
class Target:
    kind: str
    id: str
    organization_id: str | None = None

    MAX_ID: ClassVar[int] = 200

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown audit target kind {self.kind!r}")


def organization(org_id: str) -> Target:
    return Target("organization", org_id, org_id)


def client(client_id: str, org_id: str | None) -> Target:
    return Target("client", client_id, org_id)


def person(person_id: str, org_id: str | None) -> Target:
    return Target("person", person_id, org_id)


def policy_version(number: int) -> Target:
    return Target("policy_version", str(number))
