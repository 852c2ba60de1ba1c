"""The console's structured policy editor: a document's tiers and models as form fields, and
a submitted form back into a document. Pure: no database, no Flask. Windows, which the form
does not show, are kept as they were; the JSON editor edits everything."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .document import ORGANIZATION_SUBJECTS

SEPARATORS = re.compile(r"[\s,]+")
DIGITS = re.compile(r"[0-9]{1,9}")


def tier_fields(name: str, rule: Mapping[str, Any]) -> dict[str, Any]:
    """One tier's rule as the form shows it."""
    citizenship = rule.get("citizenship") or {}
    return {"name": name, "description": rule.get("description", ""),
            "status": rule.get("status", "open"),
            "trust_levels": list(rule.get("trust_levels") or []),
            "nationalities": " ".join(citizenship.get("nationalities", [])),
            "min_level": citizenship.get("min_level", "substantial"),
            "organization_subjects": citizenship.get("organization_subjects", "attestation"),
            "allowlist": "\n".join(rule.get("allowlist") or []),
            "max_token_lifetime": rule.get("max_token_lifetime") or "",
            "sender_constraint": rule.get("sender_constraint") or "",
            "windows": len(rule.get("windows") or [])}


def document_from_form(base: Mapping[str, Any], fields: Mapping[str, Sequence[str]]
                       ) -> dict[str, Any]:
    """``base`` with the form's tiers and models applied (``tier.<name>.<field>``,
    ``model.<id>.<field>``, and ``new_tier`` / ``new_model`` to add one). Values are left
    as given for the policy's own validation to judge."""
    document = copy.deepcopy(dict(base))
    tiers, models = document.setdefault("tiers", {}), document.setdefault("models", {})
    for name in list(tiers):
        tiers[name] = _tier(tiers[name], _prefixed(fields, f"tier.{name}."))
    new_tier = _one(fields, "new_tier").strip()
    if new_tier:
        tiers[new_tier] = {"status": "open"}
    for model_id in list(models):
        found = _prefixed(fields, f"model.{model_id}.")
        if _one(found, "remove"):
            del models[model_id]
        else:
            models[model_id] = _model(models[model_id], found)
    new_model = _one(fields, "new_model").strip()
    if new_model:
        models[new_model] = _model({}, _prefixed(fields, "new_model."))
    return document


def _tier(rule: Mapping[str, Any], fields: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    if not fields:
        return dict(rule)
    updated = dict(rule)
    updated["description"] = _one(fields, "description")
    updated["status"] = _one(fields, "status") or "open"
    updated["trust_levels"] = _in_order(rule.get("trust_levels") or [],
                                        fields.get("trust_levels", []))
    updated["allowlist"] = _words(_one(fields, "allowlist"))
    nationalities = _words(_one(fields, "nationalities").upper())
    subjects = _one(fields, "organization_subjects")
    updated["citizenship"] = {
        "nationalities": nationalities, "min_level": _one(fields, "min_level") or "substantial",
        "organization_subjects": subjects if subjects in ORGANIZATION_SUBJECTS
        else "attestation"} if nationalities else None
    lifetime = _one(fields, "max_token_lifetime").strip()
    updated["max_token_lifetime"] = (int(lifetime) if DIGITS.fullmatch(lifetime)
                                     else (lifetime or None))
    updated["sender_constraint"] = _one(fields, "sender_constraint") or None
    return updated


def _model(model: Mapping[str, Any], fields: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    if not fields:
        return dict(model)
    return {"tier": _one(fields, "tier"), "fallback": _one(fields, "fallback") or None,
            "released_at": _one(fields, "released_at").strip() or None}


def _in_order(before: Sequence[str], chosen: Sequence[str]) -> list[str]:
    """The values ``chosen`` (in the form's order) kept in the order they had, new ones
    after: an untouched form changes nothing, not even an order."""
    kept = [value for value in before if value in chosen]
    return kept + [value for value in chosen if value not in kept]


def _prefixed(fields: Mapping[str, Sequence[str]], prefix: str) -> dict[str, Sequence[str]]:
    return {name[len(prefix):]: values for name, values in fields.items()
            if name.startswith(prefix)}


def _one(fields: Mapping[str, Sequence[str]], name: str) -> str:
    values = fields.get(name) or [""]
    return values[0]


def _words(text: str) -> list[str]:
    return [word for word in SEPARATORS.split(text) if word]
