"""Which lifecycle moves are allowed: a pure table, checked before any change is made."""

from __future__ import annotations

from ..base.errors import Conflict
from .models import OrganizationStatus as S

#: action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[S], S]] = {
    "review": (frozenset({S.APPLIED}), S.UNDER_REVIEW),
    "verify": (frozenset({S.UNDER_REVIEW}), S.VERIFIED),
    "suspend": (frozenset({S.VERIFIED}), S.SUSPENDED),
    "reinstate": (frozenset({S.SUSPENDED}), S.VERIFIED),
    "revoke": (frozenset({S.APPLIED, S.UNDER_REVIEW, S.VERIFIED, S.SUSPENDED}), S.REVOKED),
}


def next_status(current: str, action: str) -> S:
    """The status ``action`` leads to from ``current``, or Conflict if it is not allowed."""
    if action not in TRANSITIONS:
        raise Conflict(f"unknown lifecycle action {action!r}")
    sources, target = TRANSITIONS[action]
    if current not in sources:
        allowed = ", ".join(sorted(s.value for s in sources))
        raise Conflict(f"cannot {action} an organization that is {current} "
                       f"(only from: {allowed})", code="invalid_transition")
    return target
