"""Diffs of policy documents (``policy.changes.diff``): leaves by path, and an allowlist
by the members added and removed, so a diff is as long as the change."""

from __future__ import annotations

from entitlements.policy.changes import diff


def _doc(allowlist: list[str], **rule: object) -> dict:
    return {"tiers": {"early": {"status": "allowlist_only", "allowlist": allowlist, **rule}},
            "models": {}}


def test_an_allowlist_changes_by_members():
    assert diff(_doc(["org_a", "org_b"]), _doc(["org_b", "org_c", "org_d"])) == [
        {"path": "/tiers/early/allowlist/org_a", "before": "org_a", "after": None},
        {"path": "/tiers/early/allowlist/org_c", "before": None, "after": "org_c"},
        {"path": "/tiers/early/allowlist/org_d", "before": None, "after": "org_d"}]


def test_one_member_of_a_long_allowlist_is_one_change():
    members = [f"org_{i:06d}" for i in range(50_000)]
    delta = diff(_doc(members), _doc([*members, "org_new"]))
    assert delta == [{"path": "/tiers/early/allowlist/org_new", "before": None,
                      "after": "org_new"}]


def test_the_same_members_in_another_order_are_no_change():
    assert diff(_doc(["org_a", "org_b"]), _doc(["org_b", "org_a"])) == []


def test_other_lists_and_leaves_compare_whole():
    before = _doc(["org_a"], trust_levels=["trusted"], description="old")
    after = _doc(["org_a"], trust_levels=["trusted", "verified"], description="new")
    assert diff(before, after) == [
        {"path": "/tiers/early/description", "before": "old", "after": "new"},
        {"path": "/tiers/early/trust_levels", "before": ["trusted"],
         "after": ["trusted", "verified"]}]


def test_a_tier_added_or_removed_is_one_change_with_its_list():
    rule = {"status": "allowlist_only", "allowlist": ["org_a"]}
    assert diff({"tiers": {}}, {"tiers": {"new": rule}}) == [
        {"path": "/tiers/new", "before": None, "after": rule}]
    assert diff({"tiers": {"new": rule}}, {"tiers": {}}) == [
        {"path": "/tiers/new", "before": rule, "after": None}]


def test_an_allowlist_that_is_not_a_set_of_names_compares_whole():
    assert diff(_doc([["org_a"]]), _doc([["org_b"]])) == [
        {"path": "/tiers/early/allowlist", "before": [["org_a"]], "after": [["org_b"]]}]
