"""Who an admin request acts as, in the admin API and the console alike: the authenticated
admin (``Principal``) and the role that allows what they ask (the audit trail names it)."""

from __future__ import annotations

from flask import g

from ..admins.roles import GRANTS, Permission, Principal
from ..base.actor import Actor
from ..base.errors import Forbidden
from .services import services


class ForbiddenRole(Forbidden):
    code = "forbidden_role"

    def __init__(self, principal: Principal, permission: Permission) -> None:
        allowed = sorted(role.value for role, granted in GRANTS.items() if permission in granted)
        held = ", ".join(sorted(principal.roles)) or "none"
        super().__init__(f"this needs the {permission.value} permission, which your roles "
                         f"({held}) do not give; roles that do: {', '.join(allowed)}")
        self.members = {"permission": permission.value, "roles": sorted(principal.roles)}


def authorize(principal: Principal, permission: Permission) -> None:
    """Let the request go on as ``principal`` if a role of theirs allows ``permission``."""
    g.principal, g.admin = principal, principal.name
    role = principal.role_for(permission)
    if role is None:
        raise ForbiddenRole(principal, permission)
    g.acting_role = role.value


def actor() -> Actor:
    """The authenticated admin, at this request's time, acting under the role that allowed
    the request."""
    principal: Principal = g.principal
    return Actor(principal.actor_name, services().clock.now(), role=g.get("acting_role"))
