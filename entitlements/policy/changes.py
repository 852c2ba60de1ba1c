"""JSON merge patches (RFC 7396) and path-by-path diffs of policy documents."""

from __future__ import annotations

from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge key by key, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


#: Lists that are sets: an allowlist (up to 50,000 organizations) changes by members.
SETS = frozenset({"allowlist"})


def diff(before: Any, after: Any, path: str = "") -> list[dict[str, Any]]:
    """Every changed leaf as ``{"path", "before", "after"}``. Lists compare whole, but for
    a set (``SETS``): each member added or removed is a leaf of its own, at the set's path
    and the member (``/tiers/t/allowlist/org_x``, ``before`` null when added, ``after``
    null when removed), so the diff is as long as the change, not as the set."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[dict[str, Any]] = []
        for key in sorted(set(before) | set(after)):
            old, new, where = before.get(key), after.get(key), f"{path}/{key}"
            if key in SETS and isinstance(old, list) and isinstance(new, list):
                changes.extend(_members(old, new, where))
            else:
                changes.extend(diff(old, new, where))
        return changes
    if before == after:
        return []
    return [{"path": path or "/", "before": before, "after": after}]


def _members(before: list[Any], after: list[Any], path: str) -> list[dict[str, Any]]:
    if before == after:
        return []
    try:
        old = set(before)
        removed = old.difference(after)
        added = {member for member in after if member not in old}
    except TypeError:  # not a set of names after all: compared whole
        return [{"path": path, "before": before, "after": after}]
    return [{"path": f"{path}/{member}", "before": member if member in removed else None,
             "after": member if member in added else None}
            for member in sorted(removed | added, key=str)]
