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


def diff(before: Any, after: Any, path: str = "") -> list[dict[str, Any]]:
    """Every changed leaf as ``{"path", "before", "after"}`` (lists compare whole)."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[dict[str, Any]] = []
        for key in sorted(set(before) | set(after)):
            changes.extend(diff(before.get(key), after.get(key), f"{path}/{key}"))
        return changes
    if before == after:
        return []
    return [{"path": path or "/", "before": before, "after": after}]
