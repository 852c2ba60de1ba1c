"""The policy document's validation (``compile_policy``) and the pure decision functions
(``decide``, ``decide_model``): no database, no clock but the one passed in."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from entitlements.base.errors import InvalidInput
from entitlements.kernel.policy import REASONS, Citizenship, Subject, decide, decide_model
from entitlements.policy.document import compile_policy

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)
EARLIER = NOW - timedelta(days=1)
VERIFIED = ["government_partner", "trusted", "verified"]
LOW, SUBSTANTIAL, HIGH = 0, 1, 2


def _citizenship(subjects: str, min_level: str = "substantial") -> dict:
    return {"nationalities": ["US", "CA"], "min_level": min_level,
            "organization_subjects": subjects}


DOCUMENT = {
    "tiers": {
        "public": {"description": "for everyone"},
        "restricted": {"citizenship": _citizenship("attestation")},
        "persons-only": {"citizenship": _citizenship("deny")},
        "org-friendly": {"citizenship": _citizenship("allow")},
        "high-assurance": {"citizenship": _citizenship("attestation", "high")},
        "partners": {"status": "allowlist_only", "allowlist": ["org_a"],
                     "trust_levels": ["trusted", "government_partner"]},
        "paused": {"status": "suspended", "trust_levels": ["government_partner"]},
        "trusted-only": {"trust_levels": ["trusted", "government_partner"]},
        "early": {"windows": [
            {"starts_at": LATER.isoformat(), "trust_levels": ["government_partner"]},
            {"starts_at": (LATER + timedelta(days=30)).isoformat()}]},
        "closing": {"windows": [{"starts_at": EARLIER.isoformat(),
                                 "ends_at": NOW.isoformat()}]},
        "open-window": {"windows": [{"starts_at": EARLIER.isoformat(),
                                     "ends_at": LATER.isoformat()}]},
        "bound": {"sender_constraint": "dpop"},
        "bound-restricted": {"sender_constraint": "dpop",
                             "citizenship": _citizenship("deny")},
    },
    "models": {
        "base-1": {"tier": "public"},
        "frontier-2": {"tier": "restricted", "fallback": "base-1"},
        "persons-2": {"tier": "persons-only", "fallback": "base-1"},
        "preview-3": {"tier": "early", "fallback": "persons-2"},
        "next-4": {"tier": "public", "fallback": "base-1", "released_at": LATER.isoformat()},
        "partner-5": {"tier": "partners", "fallback": "frontier-2"},
    },
}


@pytest.fixture(scope="module")
def policy():
    return compile_policy(7, copy.deepcopy(DOCUMENT), now=NOW)


def org(org_id: str = "org_b", trust: str = "verified", *held: Citizenship) -> Subject:
    return Subject(org_id, trust, False, tuple(held))


def person(org_id: str = "org_b", trust: str = "verified", *held: Citizenship) -> Subject:
    return Subject(org_id, trust, True, tuple(held))


def bound(subject: Subject) -> Subject:
    """The same subject, in a DPoP-bound token."""
    return subject._replace(dpop_bound=True)


def us(rank: int = HIGH, expires_at: datetime = LATER, nationality: str = "US") -> Citizenship:
    return Citizenship(nationality, rank, expires_at)


# -- compile_policy: refusals, each naming its culprit -------------------------------------------


def _refusal(document: dict, now: datetime | None = NOW) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        compile_policy(2, document, now=now)
    return caught.value


def _with_models(**models: dict) -> dict:
    return {"tiers": {"public": {}, "restricted": {"citizenship": _citizenship("deny")}},
            "models": models}


def test_a_model_naming_an_unknown_tier_is_refused():
    error = _refusal(_with_models(m={"tier": "secret"}))
    assert (error.code, error.message) == ("invalid_catalog",
                                           "model 'm' names unknown tier 'secret'")


def test_a_dangling_fallback_is_refused():
    error = _refusal(_with_models(m={"tier": "public", "fallback": "gone"}))
    assert (error.code, error.message) == ("invalid_catalog",
                                           "model 'm' falls back to unknown model 'gone'")


def test_a_fallback_cycle_is_refused_naming_the_loop():
    error = _refusal(_with_models(a={"tier": "public", "fallback": "b"},
                                  b={"tier": "restricted", "fallback": "c"},
                                  c={"tier": "public", "fallback": "a"}))
    assert (error.code, error.message) == ("invalid_catalog", "fallback cycle: a -> b -> c -> a")


def test_a_model_falling_back_to_itself_is_a_cycle():
    error = _refusal(_with_models(a={"tier": "public", "fallback": "a"}))
    assert error.message == "fallback cycle: a -> a"


@pytest.mark.parametrize("terminal", [
    pytest.param({"status": "suspended"}, id="suspended"),
    pytest.param({"status": "allowlist_only", "allowlist": []}, id="allowlist-only"),
    pytest.param({"trust_levels": ["trusted", "government_partner"]}, id="not-verified"),
    pytest.param({"citizenship": _citizenship("allow")}, id="citizenship"),
    pytest.param({"windows": [{"starts_at": EARLIER.isoformat()}]}, id="windows"),
    pytest.param({"sender_constraint": "dpop"}, id="sender-constraint"),
])
def test_a_chain_ending_in_a_model_not_everyone_may_use_is_refused(terminal):
    document = {"tiers": {"public": {}, "special": terminal},
                "models": {"top": {"tier": "public", "fallback": "end"},
                           "end": {"tier": "special"}}}
    error = _refusal(document)
    assert error.code == "invalid_catalog"
    assert error.message.startswith("the fallback chain of ") and (
        "ends in 'end', which not every verified organization may use" in error.message)


def test_a_model_without_fallback_in_a_restricted_tier_is_refused():
    error = _refusal(_with_models(solo={"tier": "restricted"}))
    assert error.message.startswith("the fallback chain of 'solo' ends in 'solo'")


def test_a_terminal_model_released_in_the_future_is_refused():
    error = _refusal(_with_models(
        top={"tier": "restricted", "fallback": "soon"},
        soon={"tier": "public", "released_at": LATER.isoformat()}))
    assert error.code == "invalid_catalog"
    assert "ends in 'soon'" in error.message and "the model released" in error.message
    released = _with_models(top={"tier": "restricted", "fallback": "soon"},
                            soon={"tier": "public", "released_at": NOW.isoformat()})
    assert compile_policy(2, released, now=NOW).models["soon"].released_at == NOW


def test_an_unreleased_model_is_fine_while_its_chain_ends_in_a_released_one():
    document = _with_models(base={"tier": "public"},
                            soon={"tier": "public", "fallback": "base",
                                  "released_at": LATER.isoformat()})
    assert set(compile_policy(2, document, now=NOW).models) == {"base", "soon"}


@pytest.mark.parametrize("ends_at", [NOW, EARLIER], ids=["equal", "before"])
def test_a_window_ending_before_it_starts_is_refused(ends_at):
    document = {"tiers": {"public": {}, "early": {"windows": [
        {"starts_at": NOW.isoformat(), "ends_at": ends_at.isoformat()}]}}}
    error = _refusal(document)
    assert error.code == "invalid_policy"
    assert error.message.startswith("the policy document is invalid: tiers.early")
    assert error.message.endswith("windows.0.ends_at: a window must end after it starts")


@pytest.mark.parametrize(("rule", "where", "message"), [
    pytest.param({"status": "closed"}, "status",
                 "Must be one of: open, allowlist_only, suspended.", id="status"),
    pytest.param({"trust_levels": ["verified", "godlike"]}, "trust_levels.1",
                 "Must be one of: unverified, verified, trusted, government_partner.",
                 id="trust-level"),
    pytest.param({"windows": [{"starts_at": NOW.isoformat(), "trust_levels": ["root"]}]},
                 "windows.0.trust_levels.0",
                 "Must be one of: unverified, verified, trusted, government_partner.",
                 id="window-trust-level"),
    pytest.param({"citizenship": {"nationalities": ["usa"]}}, "citizenship.nationalities.0",
                 "String does not match expected pattern.", id="nationality-code"),
    pytest.param({"citizenship": {"nationalities": ["us"]}}, "citizenship.nationalities.0",
                 "String does not match expected pattern.", id="nationality-lowercase"),
    pytest.param({"citizenship": {"nationalities": ["US"], "min_level": "medium"}},
                 "citizenship.min_level", "Must be one of: low, substantial, high.",
                 id="assurance-level"),
    pytest.param({"windows": [{"starts_at": "2030-01-01T00:00:00"}]}, "windows.0.starts_at",
                 "The time has no offset: add one, such as +00:00 for UTC.",
                 id="naive-datetime"),
    pytest.param({"surprise": True}, "surprise", "Unknown field.", id="unknown-field"),
    pytest.param({"sender_constraint": "mtls"}, "sender_constraint", "Must be one of: dpop.",
                 id="sender-constraint"),
    pytest.param({"allowlist": ["org_a", ""]}, "allowlist.1",
                 "Length must be between 1 and 64.", id="allowlist-empty-name"),
    pytest.param({"allowlist": ["org_a", "x" * 65]}, "allowlist.1",
                 "Length must be between 1 and 64.", id="allowlist-long-name"),
    pytest.param({"allowlist": ["org_a", 7]}, "allowlist.1", "Not a valid string.",
                 id="allowlist-number"),
    pytest.param({"allowlist": [None]}, "allowlist.0", "Field may not be null.",
                 id="allowlist-null"),
    pytest.param({"allowlist": "org_a"}, "allowlist", "Not a valid list.",
                 id="allowlist-not-a-list"),
    pytest.param({"allowlist": ["org_a"] * 50_001}, "allowlist",
                 "Longer than maximum length 50000.", id="allowlist-too-long"),
])
def test_bad_rules_are_refused_naming_the_field(rule, where, message):
    error = _refusal({"tiers": {"public": {}, "odd": rule}})
    assert error.code == "invalid_policy"
    assert error.message.startswith("the policy document is invalid: tiers.odd")
    assert error.message.endswith(f"{where}: {message}")


def test_a_document_that_is_not_an_object_or_has_no_tiers_is_refused():
    assert _refusal([]).message == ("a policy document is a JSON object with 'tiers' and "
                                    "'models'")
    assert _refusal({"models": {}}).message == (
        "the policy document is invalid: tiers: Missing data for required field.")
    assert "names are 1 to 64 of a-z" in _refusal({"tiers": {"Public": {}}}).message


def test_a_stored_version_is_never_refused_for_its_catalog():
    cyclic = _with_models(a={"tier": "public", "fallback": "b"},
                          b={"tier": "restricted", "fallback": "a"})
    compiled = compile_policy(3, cyclic)  # no ``now``: loading a stored version
    assert compiled.version == 3 and set(compiled.models) == {"a", "b"}
    # ... and the decision still terminates on it.
    chosen = decide_model(compiled, org(), "b", NOW)
    assert (chosen.outcome, chosen.route_to, chosen.reason) == (
        "fallback", "a", "person_subject_required")
    denied = decide_model(compiled, org(trust="unverified"), "a", NOW)
    assert (denied.outcome, denied.route_to, denied.reason) == (
        "deny", None, "trust_level_too_low")


def test_the_compiled_document_is_canonical(policy):
    tiers = policy.document["tiers"]
    assert tiers["public"] == {"description": "for everyone", "status": "open",
                               "trust_levels": VERIFIED, "citizenship": None, "allowlist": [],
                               "windows": [], "max_token_lifetime": None,
                               "sender_constraint": None}
    assert policy.document["models"]["base-1"] == {"tier": "public", "fallback": None,
                                                   "released_at": None}
    assert policy.tiers["public"].universal and not policy.tiers["restricted"].universal


# -- decide: every reason --------------------------------------------------------------------


CASES = [
    # (tier, subject, reason or None for granted)
    ("nonesuch", org(), "unknown_tier"),
    ("paused", org("org_a", "government_partner"), "tier_suspended"),
    ("paused", org("org_a", "unverified"), "tier_suspended"),
    ("partners", org("org_b", "trusted"), "not_on_allowlist"),
    ("partners", org("org_b", "unverified"), "not_on_allowlist"),
    ("partners", org("org_a", "verified"), "trust_level_too_low"),
    ("partners", org("org_a", "trusted"), None),
    ("public", org("org_b", "unverified"), "trust_level_too_low"),
    ("public", person("org_b", "unverified", us()), "trust_level_too_low"),
    ("trusted-only", org("org_b", "verified"), "trust_level_too_low"),
    ("trusted-only", org("org_b", "trusted"), None),
    ("public", org(), None),
    # Windows: not yet open, open only for another trust level, closed (end is exclusive).
    ("early", org("org_b", "government_partner"), "outside_window"),
    ("closing", org(), "outside_window"),
    ("open-window", org(), None),
    # Citizenship, for persons.
    ("restricted", person(), "citizenship_not_verified"),
    ("restricted", person("org_b", "verified", us(rank=LOW)), "citizenship_not_verified"),
    ("restricted", person("org_b", "verified", us(expires_at=NOW)),
     "citizenship_not_verified"),
    ("restricted", person("org_b", "verified", us(expires_at=EARLIER)),
     "citizenship_not_verified"),
    ("restricted", person("org_b", "verified", us(nationality="FR")),
     "citizenship_not_verified"),
    ("restricted", person("org_b", "verified", us(rank=SUBSTANTIAL)), None),
    ("restricted", person("org_b", "verified", us(nationality="FR"), us(nationality="CA")),
     None),
    ("high-assurance", person("org_b", "verified", us(rank=SUBSTANTIAL)),
     "citizenship_not_verified"),
    ("high-assurance", person("org_b", "verified", us(rank=HIGH)), None),
    ("persons-only", person("org_b", "verified", us()), None),
    # Citizenship, for organization (client-credentials) subjects.
    ("restricted", org(), "organization_attestation_required"),
    ("restricted", org("org_b", "verified", us(expires_at=EARLIER)),
     "organization_attestation_required"),
    ("restricted", org("org_b", "verified", us(rank=LOW)), "organization_attestation_required"),
    ("restricted", org("org_b", "verified", us()), None),
    ("persons-only", org(), "person_subject_required"),
    ("persons-only", org("org_b", "verified", us()), "person_subject_required"),
    ("org-friendly", org(), None),
    ("org-friendly", person(), "citizenship_not_verified"),
    # A sender constraint: granted in DPoP-bound tokens only, and checked last, so a caller
    # that fails another rule hears of that one.
    ("bound", org(), "dpop_required"),
    ("bound", person("org_b", "verified", us()), "dpop_required"),
    ("bound", bound(org()), None),
    ("bound", bound(org("org_b", "unverified")), "trust_level_too_low"),
    ("bound-restricted", person("org_b", "verified", us()), "dpop_required"),
    ("bound-restricted", bound(person()), "citizenship_not_verified"),
    ("bound-restricted", bound(person("org_b", "verified", us())), None),
    ("public", bound(org()), None),
]


@pytest.mark.parametrize(("tier", "subject", "reason"), CASES,
                         ids=[f"{t}-{'person' if s.is_person else 'org'}-{r or 'granted'}-{i}"
                              for i, (t, s, r) in enumerate(CASES)])
def test_decide_reason_table(policy, tier, subject, reason):
    decision = decide(policy, subject, [tier], NOW)
    assert decision.version == 7
    if reason is None:
        assert (decision.granted, decision.denied) == ((tier,), {})
    else:
        assert (decision.granted, decision.denied) == ((), {tier: reason})


def test_windows_open_and_close_with_time(policy):
    gov, verified = org("org_b", "government_partner"), org("org_b", "verified")
    assert decide(policy, gov, ["early"], LATER).granted == ("early",)
    assert decide(policy, verified, ["early"], LATER).denied == {"early": "outside_window"}
    assert decide(policy, verified, ["early"], LATER + timedelta(days=30)).granted == ("early",)
    assert decide(policy, verified, ["closing"], NOW - timedelta(seconds=1)).granted == (
        "closing",)


def test_decide_without_a_request_covers_every_tier_sorted(policy):
    decision = decide(policy, org("org_a", "trusted"), None, NOW)
    assert decision.granted == ("open-window", "org-friendly", "partners", "public",
                                "trusted-only")
    assert decision.denied == {
        "restricted": "organization_attestation_required",
        "persons-only": "person_subject_required",
        "high-assurance": "organization_attestation_required",
        "paused": "tier_suspended", "early": "outside_window", "closing": "outside_window",
        "bound": "dpop_required", "bound-restricted": "person_subject_required"}
    assert set(decision.granted) | set(decision.denied) == set(DOCUMENT["tiers"])


# -- decide_model: allow, fallback (skipping denied fallbacks), deny ----------------------------


@pytest.mark.parametrize(("subject", "model", "expected"), [
    pytest.param(org(), "base-1", ("allow", "public", "base-1", None), id="allow"),
    pytest.param(org(), "nonesuch", ("deny", None, None, "unknown_model"), id="unknown-model"),
    pytest.param(org(), "next-4", ("fallback", "public", "base-1", "model_not_released"),
                 id="not-released"),
    pytest.param(org(), "frontier-2",
                 ("fallback", "restricted", "base-1", "organization_attestation_required"),
                 id="attestation"),
    pytest.param(org("org_b", "verified", us()), "frontier-2",
                 ("allow", "restricted", "frontier-2", None), id="attested"),
    pytest.param(person("org_b", "verified", us()), "persons-2",
                 ("allow", "persons-only", "persons-2", None), id="person-allowed"),
    # preview-3 is outside its window; its fallback persons-2 needs a person: skipped.
    pytest.param(org("org_b", "verified", us()), "preview-3",
                 ("fallback", "early", "base-1", "outside_window"), id="skips-denied-fallback"),
    pytest.param(person("org_b", "verified", us()), "preview-3",
                 ("fallback", "early", "persons-2", "outside_window"), id="first-allowed"),
    # partner-5 -> frontier-2 (needs attestation: skipped) -> base-1.
    pytest.param(org("org_b", "trusted"), "partner-5",
                 ("fallback", "partners", "base-1", "not_on_allowlist"), id="allowlist"),
    pytest.param(org("org_a", "trusted", us()), "partner-5",
                 ("allow", "partners", "partner-5", None), id="on-allowlist"),
    pytest.param(org("org_a", "unverified"), "partner-5",
                 ("deny", "partners", None, "trust_level_too_low"), id="whole-chain-denied"),
    pytest.param(org("org_b", "unverified"), "base-1",
                 ("deny", "public", None, "trust_level_too_low"), id="deny-terminal"),
])
def test_decide_model(policy, subject, model, expected):
    chosen = decide_model(policy, subject, model, NOW)
    assert (chosen.outcome, chosen.tier, chosen.route_to, chosen.reason) == expected
    assert (chosen.model, chosen.version) == (model, 7)


def test_a_model_is_released_from_its_release_time(policy):
    assert decide_model(policy, org(), "next-4", LATER).outcome == "allow"
    assert decide_model(policy, org(), "next-4", LATER - timedelta(seconds=1)).outcome == (
        "fallback")


def test_the_suspended_model_reason_comes_from_the_requested_model():
    document = {"tiers": {"public": {}, "paused": {"status": "suspended"}},
                "models": {"base": {"tier": "public"},
                           "big": {"tier": "paused", "fallback": "base"}}}
    chosen = decide_model(compile_policy(1, document, now=NOW), org(), "big", NOW)
    assert (chosen.outcome, chosen.route_to, chosen.reason) == (
        "fallback", "base", "tier_suspended")


def test_a_gateway_narrows_the_models_to_the_tiers_its_token_grants(policy):
    attested = org("org_b", "verified", us())
    usable = {"public"}.__contains__
    chosen = decide_model(policy, attested, "frontier-2", NOW, usable)
    assert (chosen.outcome, chosen.route_to, chosen.reason) == (
        "fallback", "base-1", "tier_not_in_token")
    assert decide_model(policy, attested, "base-1", NOW, usable).outcome == "allow"
    denied = decide_model(policy, attested, "frontier-2", NOW, lambda tier: False)
    assert (denied.outcome, denied.route_to, denied.reason) == (
        "deny", None, "tier_not_in_token")
    # The token's tiers are checked first; with every tier usable, the policy's reason shows.
    assert decide_model(policy, org(), "frontier-2", NOW, usable).reason == (
        "tier_not_in_token")
    assert decide_model(policy, org(), "frontier-2", NOW, lambda tier: True).reason == (
        "organization_attestation_required")


def test_every_reason_decide_can_give_is_covered_and_documented(policy):
    seen = {reason for _, _, reason in CASES if reason} | {
        "unknown_model", "model_not_released", "tier_not_in_token"}
    assert seen == set(REASONS) - {"organization_not_verified"}  # that one is explain's
    assert all(isinstance(text, str) and text for text in REASONS.values())


def test_a_tier_requested_twice_is_granted_once(policy):
    assert decide(policy, org(), ["public", "public"], NOW).granted == ("public",)


def test_an_allowlist_is_kept_as_given():
    allowlist = [f"org_{i:05d}" for i in range(49_999, 0, -1)]
    compiled = compile_policy(2, {"tiers": {"public": {}, "listed": {
        "status": "allowlist_only", "allowlist": [*allowlist, "org_00001"]}}})
    assert compiled.document["tiers"]["listed"]["allowlist"] == [*allowlist, "org_00001"]
    assert compiled.tiers["listed"].allowlist == frozenset(allowlist)
