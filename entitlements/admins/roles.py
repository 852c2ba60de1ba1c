"""Admin roles and what each may do: the one table the console, the admin API and the CLI
all check against, and the audit trail names (the role a change was allowed under).

Pure: no database, no Flask."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    ONBOARDING_REVIEWER = "onboarding_reviewer"
    TRUST_APPROVER = "trust_approver"
    POLICY_EDITOR = "policy_editor"
    POLICY_APPROVER = "policy_approver"
    KEY_ADMIN = "key_admin"
    OWNER = "owner"


class Permission(StrEnum):
    #: Read everything: organizations, clients, tokens, policy, audit; export reports.
    READ = "read"
    #: Organizations' lifecycle and evidence, persons, clients, identity providers,
    #: consents; asking for a higher trust level.
    ONBOARD = "onboard"
    #: Approve or reject another admin's trust request; attestation issuers.
    APPROVE_TRUST = "approve_trust"
    #: Policy versions, activations (asked for), allowlist edits, schedules.
    EDIT_POLICY = "edit_policy"
    #: Approve or reject another admin's policy change; confirm or revert a break-glass.
    APPROVE_POLICY = "approve_policy"
    #: The emergency kill switch, by one admin, to be confirmed by a second.
    BREAK_GLASS = "break_glass"
    #: Revoke live tokens in bulk.
    REVOKE_TOKENS = "revoke_tokens"
    #: Flag an organization, client or person for malicious activity.
    FLAG_ABUSE = "flag_abuse"
    #: Approve another admin's flag, which sends the report.
    APPROVE_ABUSE = "approve_abuse"
    #: Signing keys, gateways (resources), audit checkpoints.
    MANAGE_KEYS = "manage_keys"
    #: Admins, their roles and API keys.
    MANAGE_ADMINS = "manage_admins"


P = Permission
#: What each role may do. Every role reads; the owner may do everything.
GRANTS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({P.READ}),
    Role.ONBOARDING_REVIEWER: frozenset({P.READ, P.ONBOARD, P.REVOKE_TOKENS, P.FLAG_ABUSE}),
    Role.TRUST_APPROVER: frozenset({P.READ, P.APPROVE_TRUST, P.FLAG_ABUSE, P.APPROVE_ABUSE}),
    Role.POLICY_EDITOR: frozenset({P.READ, P.EDIT_POLICY, P.BREAK_GLASS, P.REVOKE_TOKENS}),
    Role.POLICY_APPROVER: frozenset({P.READ, P.APPROVE_POLICY, P.BREAK_GLASS}),
    Role.KEY_ADMIN: frozenset({P.READ, P.MANAGE_KEYS}),
    Role.OWNER: frozenset(Permission),
}
ROLES = tuple(Role)
_NAMES = frozenset(role.value for role in Role)


def parse_roles(names: Iterable[str]) -> frozenset[Role]:
    """Role names to roles; ValueError naming the first unknown one."""
    roles = set()
    for name in names:
        try:
            roles.add(Role(name))
        except ValueError:
            raise ValueError(f"unknown role {name!r} (roles: {', '.join(ROLES)})") from None
    return frozenset(roles)


def acting_role(roles: Iterable[str], permission: Permission) -> Role | None:
    """The role ``permission`` is allowed under (the most specific one held, the owner
    last), or None when no role held allows it."""
    held = {Role(r) for r in roles if r in _NAMES}
    return next((role for role in ROLES if role in held and permission in GRANTS[role]), None)


def permissions(roles: Iterable[str]) -> frozenset[Permission]:
    granted: set[Permission] = set()
    for role in roles:
        if role in _NAMES:
            granted |= GRANTS[Role(role)]
    return frozenset(granted)


@dataclass(frozen=True)
class Principal:
    """An authenticated admin and the roles they act with (a key's, as far as the admin
    still holds them; a console session's, the admin's)."""

    name: str
    roles: frozenset[str]

    def role_for(self, permission: Permission) -> Role | None:
        return acting_role(self.roles, permission)

    @property
    def actor_name(self) -> str:
        return f"admin:{self.name}"
