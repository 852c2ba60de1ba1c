"""Who an admin request acts as, in the admin API and the console alike: the authenticated
admin (``Principal``) and the role that allows what they ask (the audit trail names it)."""

from __future__ import annotations

from typing import Any

from flask import Response, g, request

from ..admins.roles import GRANTS, Permission, Principal
from ..base.actor import Actor
from ..base.errors import Forbidden
from .services import services


class ForbiddenRole(Forbidden):
    code = "forbidden_role"

    def __init__(self, principal: Principal, permissions: tuple[Permission, ...]) -> None:
        needed = " or ".join(p.value for p in permissions)
        held = ", ".join(sorted(principal.roles)) or "none"
        super().__init__(f"this needs the {needed} permission, which your roles ({held}) do "
                         f"not give; roles that do: {', '.join(roles_allowing(permissions))}")
        self.members = {"permission": permissions[0].value,
                        "permissions": [p.value for p in permissions],
                        "roles": sorted(principal.roles)}


def roles_allowing(permissions: tuple[Permission, ...]) -> list[str]:
    return sorted(role.value for role, granted in GRANTS.items()
                  if any(p in granted for p in permissions))


def authorize(principal: Principal, *permissions: Permission) -> None:
    """Let the request go on as ``principal`` if a role of theirs allows one of
    ``permissions`` (the role named in the audit trail is the first that does)."""
    g.principal, g.admin = principal, principal.name
    role = next((found for found in (principal.role_for(p) for p in permissions) if found),
                None)
    if role is None:
        raise ForbiddenRole(principal, permissions)
    g.acting_role = role.value


def actor() -> Actor:
    """The authenticated admin, at this request's time, acting under the role that allowed
    the request."""
    principal: Principal = g.principal
    return Actor(principal.actor_name, services().clock.now(), role=g.get("acting_role"))


def audit_refusal(response: Response, action: str, reason: str | None,
                  **details: Any) -> Response:
    """A signed-in admin's refused request (a 4xx), audited with the admin's name, what was
    asked and the refusal's code; never the body, which may hold a secret or a key."""
    if 400 <= response.status_code < 500 and g.get("principal") is not None:
        services().refusals.record(
            actor=g.principal.actor_name, action=action,
            reason=reason or str(response.status_code),
            details={"method": request.method, "path": request.path[:200],
                     "status": response.status_code, **details})
    return response
