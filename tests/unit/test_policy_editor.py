"""The console's structured policy editor: a document shown as form fields and posted back
unchanged is the same policy; each field changes what it says and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from entitlements.base.errors import InvalidInput
from entitlements.policy.document import compile_policy, dump_document, load_document
from entitlements.policy.editor import document_from_form, tier_fields

DOCUMENT = dump_document(load_document({
    "tiers": {
        "public": {"description": "for everyone"},
        "restricted": {"status": "allowlist_only", "trust_levels": ["trusted"],
                       "allowlist": ["org_a", "org_b"], "max_token_lifetime": 600,
                       "sender_constraint": "dpop",
                       "citizenship": {"nationalities": ["US", "CA"], "min_level": "high",
                                       "organization_subjects": "deny"}},
        "early-access": {"status": "suspended", "windows": [
            {"starts_at": "2026-07-01T00:00:00+00:00", "trust_levels": ["government_partner"]}]},
    },
    "models": {"base-1": {"tier": "public"},
               "frontier-2": {"tier": "restricted", "fallback": "base-1",
                              "released_at": "2026-06-01T00:00:00+00:00"}},
}))


def as_form(document: dict) -> dict[str, list[str]]:
    """What the editor page posts for ``document`` when nothing is touched."""
    posted: dict[str, list[str]] = {}
    for name, rule in document["tiers"].items():
        shown = tier_fields(name, rule)
        for field in ("description", "status", "nationalities", "min_level",
                      "organization_subjects", "allowlist", "max_token_lifetime",
                      "sender_constraint"):
            posted[f"tier.{name}.{field}"] = [str(shown[field])]
        posted[f"tier.{name}.trust_levels"] = shown["trust_levels"]
    for model_id, model in document["models"].items():
        posted[f"model.{model_id}.tier"] = [model["tier"]]
        posted[f"model.{model_id}.fallback"] = [model.get("fallback") or ""]
        posted[f"model.{model_id}.released_at"] = [model.get("released_at") or ""]
    return posted


def compiled(document: dict):
    return compile_policy(1, document)


def test_an_untouched_form_is_the_same_policy():
    assert compiled(document_from_form(DOCUMENT, as_form(DOCUMENT))) == compiled(DOCUMENT)


def test_an_untouched_form_is_the_same_document_whatever_order_the_boxes_come_in():
    form = as_form(DOCUMENT)
    form["tier.public.trust_levels"] = ["verified", "trusted", "government_partner"]
    assert DOCUMENT["tiers"]["public"]["trust_levels"] == [
        "government_partner", "trusted", "verified"]
    assert document_from_form(DOCUMENT, form) == DOCUMENT
    added = document_from_form(DOCUMENT, as_form(DOCUMENT) | {
        "tier.restricted.trust_levels": ["government_partner", "trusted"]})
    assert added["tiers"]["restricted"]["trust_levels"] == ["trusted", "government_partner"]


def test_windows_the_form_does_not_show_are_kept():
    assert tier_fields("early-access", DOCUMENT["tiers"]["early-access"])["windows"] == 1
    edited = document_from_form(DOCUMENT, as_form(DOCUMENT))
    assert edited["tiers"]["early-access"]["windows"] == DOCUMENT["tiers"]["early-access"][
        "windows"]


def test_the_base_document_is_not_changed():
    before = repr(DOCUMENT)
    form = as_form(DOCUMENT) | {"tier.public.status": ["suspended"], "new_tier": ["beta"]}
    document_from_form(DOCUMENT, form)
    assert repr(DOCUMENT) == before


def test_nationalities_in_any_case_and_separator():
    form = as_form(DOCUMENT) | {"tier.public.nationalities": ["us, gb\nfr"],
                                "tier.public.organization_subjects": ["allow"]}
    rule = document_from_form(DOCUMENT, form)["tiers"]["public"]
    assert rule["citizenship"] == {"nationalities": ["US", "GB", "FR"],
                                   "min_level": "substantial", "organization_subjects": "allow"}
    assert compiled(document_from_form(DOCUMENT, form)).tiers["public"].citizenship is not None


def test_no_nationalities_is_no_citizenship_rule():
    form = as_form(DOCUMENT) | {"tier.restricted.nationalities": [" "]}
    assert document_from_form(DOCUMENT, form)["tiers"]["restricted"]["citizenship"] is None


def test_an_unknown_organization_subjects_value_falls_back_to_attestation():
    form = as_form(DOCUMENT) | {"tier.restricted.organization_subjects": ["sometimes"]}
    rule = document_from_form(DOCUMENT, form)["tiers"]["restricted"]
    assert rule["citizenship"]["organization_subjects"] == "attestation"


def test_unticked_trust_levels_and_a_cleared_allowlist():
    form = as_form(DOCUMENT) | {"tier.restricted.trust_levels": [],
                                "tier.restricted.allowlist": [""]}
    rule = document_from_form(DOCUMENT, form)["tiers"]["restricted"]
    assert (rule["trust_levels"], rule["allowlist"]) == ([], [])


def test_a_lifetime_that_is_not_a_number_is_left_for_the_policy_to_refuse():
    form = as_form(DOCUMENT) | {"tier.restricted.max_token_lifetime": ["ten minutes"]}
    edited = document_from_form(DOCUMENT, form)
    assert edited["tiers"]["restricted"]["max_token_lifetime"] == "ten minutes"
    with pytest.raises(InvalidInput, match="max_token_lifetime"):
        compiled(edited)


def test_a_tier_and_a_model_added_and_a_model_removed():
    form = as_form(DOCUMENT) | {
        "new_tier": ["beta "], "new_model": ["preview-3"], "new_model.tier": ["beta"],
        "new_model.fallback": ["base-1"], "model.frontier-2.remove": ["on"]}
    edited = document_from_form(DOCUMENT, form)
    assert edited["tiers"]["beta"] == {"status": "open"}
    assert edited["models"] == {"base-1": DOCUMENT["models"]["base-1"] | {
        "fallback": None, "released_at": None},
        "preview-3": {"tier": "beta", "fallback": "base-1", "released_at": None}}
    policy = compiled(edited)
    assert set(policy.tiers) == {"public", "restricted", "early-access", "beta"}
    assert policy.models["preview-3"].fallback == "base-1"


def test_a_model_of_an_unknown_tier_is_refused_when_it_becomes_a_version():
    form = as_form(DOCUMENT) | {"model.base-1.tier": ["nowhere"]}
    with pytest.raises(InvalidInput, match="nowhere"):
        compile_policy(2, document_from_form(DOCUMENT, form), now=datetime.now(UTC))
