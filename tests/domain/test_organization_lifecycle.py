"""Organization lifecycle, trust changes and the two-person rule, through the real services
and the ``entitlements orgs`` commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from entitlements.audit.models import AuditEvent
from entitlements.base.actor import Actor
from entitlements.base.clock import FrozenClock
from entitlements.base.db import Database
from entitlements.base.errors import Conflict, EntitlementsError, Forbidden, InvalidInput, NotFound
from entitlements.organizations import lifecycle
from entitlements.organizations import service as organizations
from entitlements.organizations.models import (
    Organization,
    OrganizationChange,
    OrganizationStatus,
    TrustRequest,
)

ALICE, BOB, CAROL = "admin:alice", "admin:bob", "admin:carol"
NAME = "Acme Labs"

#: The lifecycle actions that bring a fresh application to each status.
PATH_TO = {
    "applied": (),
    "under_review": ("review",),
    "verified": ("review", "verify"),
    "suspended": ("review", "verify", "suspend"),
    "revoked": ("review", "verify", "revoke"),
}

# -- helpers -----------------------------------------------------------------------------------


def actor(clock: FrozenClock, name: str = ALICE) -> Actor:
    return Actor(name, clock.now())


def org_in(db: Database, clock: FrozenClock, status: str, name: str = NAME) -> str:
    """An organization that applied and was then moved to ``status``."""
    with db.transaction() as session:
        org_id = organizations.apply(session, actor(clock), name, "DE").id
        for action in PATH_TO[status]:
            organizations.move(session, actor(clock), org_id, action, f"to {action}")
        return org_id


def verified(db: Database, clock: FrozenClock, trust: str = "verified") -> str:
    """A verified organization onboarded in one step, raised to ``trust`` if above verified."""
    with db.transaction() as session:
        org_id = organizations.create(session, actor(clock), NAME).id
    for level in ("trusted", "government_partner"):
        if level == trust or (trust == "government_partner" and level == "trusted"):
            approve(db, clock, request(db, clock, org_id, level))
    return org_id


def request(db: Database, clock: FrozenClock, org_id: str, level: str, by: str = ALICE) -> str:
    with db.transaction() as session:
        return organizations.request_trust(session, actor(clock, by), org_id, level,
                                           f"asks for {level}").id


def approve(db: Database, clock: FrozenClock, request_id: str, by: str = BOB) -> None:
    with db.transaction() as session:
        organizations.approve_trust(session, actor(clock, by), request_id, "second look")


def row(db: Database, org_id: str) -> tuple:
    with db.sessions() as session:
        org = session.get(Organization, org_id)
        return (org.name, org.status, org.trust_level, org.country, org.updated_at)


def changes(db: Database, org_id: str) -> list[OrganizationChange]:
    with db.sessions() as session:
        return organizations.history(session, org_id).items


def audit_events(db: Database, action: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.stream == "main").order_by(AuditEvent.seq)
    if action:
        query = query.where(AuditEvent.action == action)
    with db.sessions() as session:
        return list(session.scalars(query))


def counts(db: Database) -> dict[str, int]:
    """How many rows each table touched by these services holds."""
    with db.sessions() as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                for model in (Organization, OrganizationChange, TrustRequest, AuditEvent)}


def trust_request(db: Database, request_id: str) -> TrustRequest:
    with db.sessions() as session:
        return session.get(TrustRequest, request_id)


def refused(db: Database, error: type[EntitlementsError], call: Callable[[Any], Any]
            ) -> EntitlementsError:
    """Run ``call(session)`` in a transaction that commits even though the call is refused,
    so anything the service changed before refusing would be written."""
    with db.transaction() as session, pytest.raises(error) as raised:
        call(session)
    return raised.value


# -- the lifecycle -----------------------------------------------------------------------------


LIFECYCLE = [
    # action, status after, trust after, audit action
    ("review", "under_review", "unverified", "organization.under_review"),
    ("verify", "verified", "verified", "organization.verified"),
    ("suspend", "suspended", "verified", "organization.suspended"),
    ("reinstate", "verified", "verified", "organization.reinstated"),
    ("revoke", "revoked", "verified", "organization.revoked"),
]


def test_full_lifecycle_is_recorded_step_by_step(db: Database, clock: FrozenClock):
    """apply -> review -> verify -> suspend -> reinstate -> revoke, each in history and audit."""
    with db.transaction() as session:
        org = organizations.apply(session, actor(clock), NAME, "DE")
        org_id = org.id
    assert org_id.startswith("org_")
    assert row(db, org_id) == (NAME, "applied", "unverified", "DE", clock.now())
    [applied] = changes(db, org_id)
    assert (applied.action, applied.actor, applied.reason, applied.evidence) == (
        "apply", ALICE, "application received", {"country": "DE"})
    assert (applied.from_status, applied.to_status, applied.from_trust, applied.to_trust) == (
        "applied", "applied", "unverified", "unverified")
    [event] = audit_events(db, "organization.applied")
    assert (event.actor, event.target, event.reason) == (ALICE, org_id, "application received")

    status, trust = "applied", "unverified"
    for step, (action, to_status, to_trust, audit_action) in enumerate(LIFECYCLE, start=1):
        now = clock.advance(60)
        admin = f"admin:step{step}"
        reason, evidence = f"reason for {action}", {"ticket": f"SEC-{step}", "checked": [action]}
        with db.transaction() as session:
            moved = organizations.move(session, Actor(admin, now), org_id, action, reason,
                                       evidence=evidence)
            assert (moved.status, moved.trust_level) == (to_status, to_trust)

        assert row(db, org_id) == (NAME, to_status, to_trust, "DE", now), action
        history = changes(db, org_id)
        assert len(history) == step + 1, action
        last = history[-1]
        assert (last.action, last.actor, last.at, last.reason, last.evidence,
                last.approved_by) == (action, admin, now, reason, evidence, None)
        assert (last.from_status, last.to_status, last.from_trust, last.to_trust) == (
            status, to_status, trust, to_trust)
        [event] = audit_events(db, audit_action)
        assert (event.actor, event.target, event.reason, event.at, event.outcome) == (
            admin, org_id, reason, now, "success")
        assert event.details == {"status": [status, to_status], "trust": [trust, to_trust],
                                 "evidence": evidence}
        status, trust = to_status, to_trust

    assert [c.action for c in changes(db, org_id)] == ["apply"] + [s[0] for s in LIFECYCLE]
    assert [e.action for e in audit_events(db)][-6:] == ["organization.applied"] + [
        s[3] for s in LIFECYCLE]


def test_evidence_defaults_to_empty(db: Database, clock: FrozenClock):
    org_id = org_in(db, clock, "applied")
    with db.transaction() as session:
        organizations.move(session, actor(clock), org_id, "review", "documents arrived")
    assert changes(db, org_id)[-1].evidence == {}
    assert audit_events(db, "organization.under_review")[0].details["evidence"] == {}


def test_a_500_character_reason_is_accepted(db: Database, clock: FrozenClock):
    org_id = org_in(db, clock, "applied")
    with db.transaction() as session:
        organizations.move(session, actor(clock), org_id, "revoke", "x" * 500)
    assert changes(db, org_id)[-1].reason == "x" * 500


DISALLOWED = [
    pytest.param("applied", "verify", id="verify-applied"),
    pytest.param("applied", "suspend", id="suspend-applied"),
    pytest.param("applied", "reinstate", id="reinstate-applied"),
    pytest.param("under_review", "review", id="review-under-review"),
    pytest.param("under_review", "suspend", id="suspend-under-review"),
    pytest.param("under_review", "reinstate", id="reinstate-under-review"),
    pytest.param("verified", "review", id="review-verified"),
    pytest.param("verified", "verify", id="verify-verified"),
    pytest.param("verified", "reinstate", id="reinstate-verified"),
    pytest.param("suspended", "review", id="review-suspended"),
    pytest.param("suspended", "verify", id="verify-suspended"),
    pytest.param("suspended", "suspend", id="suspend-suspended"),
    pytest.param("revoked", "review", id="review-revoked"),
    pytest.param("revoked", "verify", id="verify-revoked"),
    pytest.param("revoked", "suspend", id="suspend-revoked"),
    pytest.param("revoked", "reinstate", id="reinstate-revoked"),
    pytest.param("revoked", "revoke", id="revoke-revoked"),
]


def test_the_disallowed_table_is_every_move_the_lifecycle_refuses():
    """Guards the table above: together with the allowed moves it covers every pair."""
    allowed = {(s.value, action) for action, (sources, _) in lifecycle.TRANSITIONS.items()
               for s in sources}
    refused_pairs = {tuple(p.values) for p in DISALLOWED}
    every = {(s.value, action) for s in OrganizationStatus for action in lifecycle.TRANSITIONS}
    assert allowed.isdisjoint(refused_pairs)
    assert allowed | refused_pairs == every


@pytest.mark.parametrize(("status", "action"), DISALLOWED)
def test_disallowed_transition_is_refused_and_changes_nothing(db: Database, clock: FrozenClock,
                                                               status: str, action: str):
    org_id = org_in(db, clock, status)
    before, rows_before, history_before = row(db, org_id), counts(db), changes(db, org_id)
    clock.advance(60)
    error = refused(db, Conflict, lambda s: organizations.move(
        s, actor(clock, BOB), org_id, action, "should not happen", evidence={"x": 1}))
    assert error.code == "invalid_transition"
    assert error.message.startswith(f"cannot {action} an organization that is {status} ")
    assert row(db, org_id) == before
    assert counts(db) == rows_before
    assert [c.id for c in changes(db, org_id)] == [c.id for c in history_before]


@pytest.mark.parametrize(("org_id", "action", "reason", "error", "message"), [
    pytest.param(None, "review", "", InvalidInput, "a reason of 1 to 500 characters",
                 id="empty-reason"),
    pytest.param(None, "review", "   ", InvalidInput, "a reason of 1 to 500 characters",
                 id="blank-reason"),
    pytest.param(None, "review", None, InvalidInput, "a reason of 1 to 500 characters",
                 id="no-reason"),
    pytest.param(None, "review", "x" * 501, InvalidInput, "a reason of 1 to 500 characters",
                 id="overlong-reason"),
    pytest.param(None, "approve", "why", Conflict, "unknown lifecycle action 'approve'",
                 id="unknown-action"),
    pytest.param("org_nope", "review", "why", NotFound, "no organization with id 'org_nope'",
                 id="unknown-organization"),
])
def test_move_refuses_bad_input(db: Database, clock: FrozenClock, org_id, action, reason, error,
                                message):
    real_id = org_in(db, clock, "applied")
    before, rows_before = row(db, real_id), counts(db)
    raised = refused(db, error, lambda s: organizations.move(
        s, actor(clock), org_id or real_id, action, reason))
    assert message in raised.message
    assert row(db, real_id) == before
    assert counts(db) == rows_before


# -- one-step onboarding and applications --------------------------------------------------------


@pytest.mark.parametrize("trust", [pytest.param("unverified", id="unverified"),
                                   pytest.param("verified", id="verified")])
def test_create_onboards_a_verified_organization(db: Database, clock: FrozenClock, trust: str):
    with db.transaction() as session:
        org_id = organizations.create(session, actor(clock), NAME, trust, country="FR").id
    assert row(db, org_id) == (NAME, "verified", trust, "FR", clock.now())
    [change] = changes(db, org_id)
    assert (change.action, change.actor, change.reason, change.evidence) == (
        "create", ALICE, "onboarded by an admin", {"country": "FR"})
    assert (change.from_status, change.to_status, change.from_trust, change.to_trust) == (
        "verified", "verified", trust, trust)
    [event] = audit_events(db, "organization.created")
    assert (event.actor, event.target, event.reason) == (ALICE, org_id, "onboarded by an admin")
    assert event.details["trust"] == [trust, trust]


def test_create_defaults_to_verified_trust_and_no_country(db: Database, clock: FrozenClock):
    with db.transaction() as session:
        org_id = organizations.create(session, actor(clock), f"  {NAME}  ").id
    assert row(db, org_id) == (NAME, "verified", "verified", None, clock.now())


@pytest.mark.parametrize("trust", [pytest.param("trusted", id="trusted"),
                                   pytest.param("government_partner", id="government-partner")])
def test_create_cannot_bypass_the_two_person_rule(db: Database, clock: FrozenClock, trust: str):
    rows_before = counts(db)
    error = refused(db, Forbidden, lambda s: organizations.create(s, actor(clock), NAME, trust))
    assert f"trust {trust} needs a second admin" in error.message
    assert counts(db) == rows_before


COUNTRIES = [
    pytest.param("usa", id="three-letters"),
    pytest.param("us", id="lower-case"),
    pytest.param("Us", id="mixed-case"),
    pytest.param("", id="empty"),
    pytest.param("U1", id="digit"),
    pytest.param("U", id="one-letter"),
    pytest.param(" US", id="padded"),
    pytest.param("ÄÖ", id="non-ascii-letters"),
]


@pytest.mark.parametrize("country", COUNTRIES)
@pytest.mark.parametrize("onboard", [
    pytest.param(lambda s, a, country: organizations.apply(s, a, NAME, country), id="apply"),
    pytest.param(lambda s, a, country: organizations.create(s, a, NAME, country=country),
                 id="create"),
])
def test_country_must_be_an_iso_alpha2_code(db: Database, clock: FrozenClock, onboard,
                                            country: str):
    rows_before = counts(db)
    error = refused(db, InvalidInput, lambda s: onboard(s, actor(clock), country))
    assert error.message == "country must be an ISO 3166-1 alpha-2 code, such as US"
    assert counts(db) == rows_before


@pytest.mark.parametrize(("name", "error", "message"), [
    pytest.param(NAME, Conflict, "an organization named 'Acme Labs' already exists",
                 id="duplicate"),
    pytest.param(f" {NAME}\t", Conflict, "an organization named 'Acme Labs' already exists",
                 id="duplicate-with-whitespace"),
    pytest.param("", InvalidInput, "organization name must be 1 to 200 characters", id="empty"),
    pytest.param("   ", InvalidInput, "organization name must be 1 to 200 characters",
                 id="blank"),
    pytest.param("x" * 201, InvalidInput, "organization name must be 1 to 200 characters",
                 id="overlong"),
])
@pytest.mark.parametrize("onboard", [
    pytest.param(lambda s, a, name: organizations.apply(s, a, name), id="apply"),
    pytest.param(lambda s, a, name: organizations.create(s, a, name), id="create"),
])
def test_organization_names(db: Database, clock: FrozenClock, onboard, name, error, message):
    org_in(db, clock, "applied")
    rows_before = counts(db)
    raised = refused(db, error, lambda s: onboard(s, actor(clock, BOB), name))
    assert raised.message == message
    assert counts(db) == rows_before


def test_create_refuses_an_unknown_trust_level(db: Database, clock: FrozenClock):
    error = refused(db, InvalidInput,
                    lambda s: organizations.create(s, actor(clock), NAME, "royal"))
    assert error.message.startswith("trust level must be one of: unverified, verified")


# -- trust: the two-person rule ----------------------------------------------------------------


def test_two_person_rule_for_trusted(db: Database, clock: FrozenClock):
    """Alice asks, Alice cannot approve, Bob approves; the change names both."""
    org_id = verified(db, clock)
    before, history_before = row(db, org_id), changes(db, org_id)

    with db.transaction() as session:
        pending = organizations.request_trust(session, actor(clock, ALICE), org_id, "trusted",
                                              "  audited by SEC-7  ")
        request_id = pending.id
    assert request_id.startswith("trq_")
    stored = trust_request(db, request_id)
    assert (stored.organization_id, stored.level, stored.requested_by, stored.requested_at,
            stored.reason, stored.state, stored.decided_by, stored.decided_at) == (
        org_id, "trusted", ALICE, clock.now(), "audited by SEC-7", "pending", None, None)
    assert row(db, org_id) == before
    assert len(changes(db, org_id)) == len(history_before)
    [asked] = audit_events(db, "organization.trust_requested")
    assert (asked.actor, asked.target, asked.reason, asked.details) == (
        ALICE, org_id, "audited by SEC-7", {"request": request_id, "level": "trusted"})

    rows_before = counts(db)
    error = refused(db, Forbidden, lambda s: organizations.approve_trust(
        s, actor(clock, ALICE), request_id, "I vouch for it myself"))
    assert error.code == "two_person_rule"
    assert "two-person rule" in error.message
    assert trust_request(db, request_id).state == "pending"
    assert row(db, org_id) == before
    assert counts(db) == rows_before

    approved_at = clock.advance(300)
    evidence = {"audit_report": "SEC-7.pdf"}
    with db.transaction() as session:
        org = organizations.approve_trust(session, actor(clock, BOB), request_id,
                                          "report reviewed", evidence=evidence)
        assert org.trust_level == "trusted"
    assert row(db, org_id) == (NAME, "verified", "trusted", None, approved_at)
    stored = trust_request(db, request_id)
    assert (stored.state, stored.decided_by, stored.decided_at, stored.decision_reason) == (
        "approved", BOB, approved_at, "report reviewed")
    raised = changes(db, org_id)[-1]
    assert (raised.action, raised.actor, raised.approved_by, raised.at, raised.reason,
            raised.evidence) == ("raise_trust", ALICE, BOB, approved_at, "audited by SEC-7",
                                 evidence)
    assert (raised.from_status, raised.to_status, raised.from_trust, raised.to_trust) == (
        "verified", "verified", "verified", "trusted")
    [event] = audit_events(db, "organization.trust_raised")
    assert (event.actor, event.target, event.at) == (BOB, org_id, approved_at)
    assert event.details == {"status": ["verified", "verified"], "trust": ["verified", "trusted"],
                             "evidence": evidence, "requested_by": ALICE, "approved_by": BOB}

    for approver in (BOB, CAROL, ALICE):
        rows_before = counts(db)
        error = refused(db, Conflict, lambda s, who=approver: organizations.approve_trust(
            s, actor(clock, who), request_id, "again"))
        assert error.message == f"trust request {request_id} is already approved"
        assert counts(db) == rows_before
    assert row(db, org_id)[2] == "trusted"


def test_government_partner_after_trusted(db: Database, clock: FrozenClock):
    org_id = verified(db, clock, "trusted")
    request_id = request(db, clock, org_id, "government_partner", by=BOB)
    error = refused(db, Forbidden, lambda s: organizations.approve_trust(
        s, actor(clock, BOB), request_id, "mine"))
    assert error.code == "two_person_rule"
    assert row(db, org_id)[2] == "trusted"
    approve(db, clock, request_id, by=CAROL)
    assert row(db, org_id)[1:3] == ("verified", "government_partner")
    steps = [(c.action, c.from_trust, c.to_trust, c.actor, c.approved_by)
             for c in changes(db, org_id)]
    assert steps == [("create", "verified", "verified", ALICE, None),
                     ("raise_trust", "verified", "trusted", ALICE, BOB),
                     ("raise_trust", "trusted", "government_partner", BOB, CAROL)]
    events = audit_events(db, "organization.trust_raised")
    assert [(e.details["requested_by"], e.details["approved_by"]) for e in events] == [
        (ALICE, BOB), (BOB, CAROL)]


def test_government_partner_straight_from_verified(db: Database, clock: FrozenClock):
    org_id = verified(db, clock)
    approve(db, clock, request(db, clock, org_id, "government_partner"))
    assert row(db, org_id)[2] == "government_partner"


@pytest.mark.parametrize(("rejecter", "action"), [
    pytest.param(ALICE, "organization.trust_withdrawn", id="withdrawn-by-the-requester"),
    pytest.param(BOB, "organization.trust_rejected", id="rejected-by-another-admin")])
def test_rejected_request_leaves_trust_unchanged(db: Database, clock: FrozenClock,
                                                 rejecter: str, action: str):
    org_id = verified(db, clock)
    before, history_before = row(db, org_id), changes(db, org_id)
    request_id = request(db, clock, org_id, "trusted")
    decided_at = clock.advance(60)
    with db.transaction() as session:
        rejected = organizations.reject_trust(session, actor(clock, rejecter), request_id,
                                              "no audit report")
        assert rejected.state == "rejected"
    stored = trust_request(db, request_id)
    assert (stored.state, stored.decided_by, stored.decided_at, stored.decision_reason) == (
        "rejected", rejecter, decided_at, "no audit report")
    assert row(db, org_id) == before
    assert len(changes(db, org_id)) == len(history_before)
    [event] = audit_events(db, action)
    assert (event.actor, event.target, event.reason, event.details) == (
        rejecter, org_id, "no audit report", {"request": request_id, "level": "trusted"})
    for decide in (organizations.approve_trust, organizations.reject_trust):
        error = refused(db, Conflict, lambda s, d=decide: d(s, actor(clock, CAROL), request_id,
                                                             "late"))
        assert error.message == f"trust request {request_id} is already rejected"
    assert row(db, org_id) == before


def test_only_the_requester_withdraws_without_the_right_to_reject(db: Database,
                                                                  clock: FrozenClock):
    org_id = verified(db, clock)
    request_id = request(db, clock, org_id, "trusted")
    error = refused(db, Forbidden, lambda s: organizations.reject_trust(
        s, actor(clock, BOB), request_id, "not mine", may_reject_others=False))
    assert error.code == "not_yours"
    assert trust_request(db, request_id).state == "pending"
    with db.transaction() as session:
        organizations.reject_trust(session, actor(clock, ALICE), request_id, "asked too soon",
                                   may_reject_others=False)
    assert trust_request(db, request_id).state == "rejected"


def test_a_new_request_after_a_rejection(db: Database, clock: FrozenClock):
    org_id = verified(db, clock)
    first = request(db, clock, org_id, "trusted")
    with db.transaction() as session:
        organizations.reject_trust(session, actor(clock, BOB), first, "not yet")
    clock.advance(60)
    second = request(db, clock, org_id, "trusted")
    approve(db, clock, second)
    assert row(db, org_id)[2] == "trusted"
    with db.sessions() as session:
        listed = organizations.trust_requests(session, org_id).items
        assert [(r.id, r.state) for r in listed] == [(first, "rejected"), (second, "approved")]
        assert [r.id for r in organizations.trust_requests(session, state="approved").items] == [
            second]
        assert organizations.trust_requests(session, "org_other").items == []


def _org_at(status: str = "verified", trust: str = "verified"):
    def make(db: Database, clock: FrozenClock) -> str:
        return verified(db, clock, trust) if status == "verified" else org_in(db, clock, status)
    return make


@pytest.mark.parametrize(("make", "org_id", "level", "reason", "error", "code", "message"), [
    pytest.param(_org_at("applied"), None, "trusted", "why", Conflict, "invalid_transition",
                 "is applied; only a verified organization's trust can be raised",
                 id="applied-org"),
    pytest.param(_org_at("under_review"), None, "trusted", "why", Conflict,
                 "invalid_transition", "is under_review; only a verified", id="under-review-org"),
    pytest.param(_org_at("suspended"), None, "trusted", "why", Conflict, "invalid_transition",
                 "is suspended; only a verified", id="suspended-org"),
    pytest.param(_org_at("revoked"), None, "government_partner", "why", Conflict,
                 "invalid_transition", "is revoked; only a verified", id="revoked-org"),
    pytest.param(_org_at(), None, "verified", "why", InvalidInput, "invalid_input",
                 "only government_partner, trusted are requested", id="level-verified"),
    pytest.param(_org_at(), None, "unverified", "why", InvalidInput, "invalid_input",
                 "only government_partner, trusted are requested", id="level-unverified"),
    pytest.param(_org_at(), None, "royal", "why", InvalidInput, "invalid_input",
                 "trust level must be one of", id="unknown-level"),
    pytest.param(_org_at(trust="trusted"), None, "trusted", "why", Conflict, "conflict",
                 "is already trusted", id="same-level"),
    pytest.param(_org_at(trust="government_partner"), None, "trusted", "why", Conflict,
                 "conflict", "is already government_partner", id="lower-level"),
    pytest.param(_org_at(), None, "trusted", "", InvalidInput, "invalid_input",
                 "a reason of 1 to 500 characters", id="empty-reason"),
    pytest.param(_org_at(), None, "trusted", "x" * 501, InvalidInput, "invalid_input",
                 "a reason of 1 to 500 characters", id="overlong-reason"),
    pytest.param(_org_at(), "org_nope", "trusted", "why", NotFound, "not_found",
                 "no organization with id 'org_nope'", id="unknown-org"),
])
def test_trust_request_refusals(db: Database, clock: FrozenClock, make, org_id, level, reason,
                                error, code, message):
    real_id = make(db, clock)
    before, rows_before = row(db, real_id), counts(db)
    raised = refused(db, error, lambda s: organizations.request_trust(
        s, actor(clock, CAROL), org_id or real_id, level, reason))
    assert raised.code == code
    assert message in raised.message
    assert row(db, real_id) == before
    assert counts(db) == rows_before


@pytest.mark.parametrize(("lifecycle_action", "status"), [
    pytest.param("suspend", "suspended", id="suspended-meanwhile"),
    pytest.param("revoke", "revoked", id="revoked-meanwhile"),
])
def test_approval_needs_the_organization_still_verified(db: Database, clock: FrozenClock,
                                                        lifecycle_action: str, status: str):
    org_id = verified(db, clock)
    request_id = request(db, clock, org_id, "trusted")
    with db.transaction() as session:
        organizations.move(session, actor(clock, CAROL), org_id, lifecycle_action, "incident")
    before, rows_before = row(db, org_id), counts(db)
    error = refused(db, Conflict, lambda s: organizations.approve_trust(
        s, actor(clock, BOB), request_id, "fine"))
    assert error.code == "invalid_transition"
    assert error.message == f"organization {org_id} is {status}"
    assert trust_request(db, request_id).state == "pending"
    assert row(db, org_id) == before
    assert counts(db) == rows_before


def test_a_stale_request_cannot_lower_trust(db: Database, clock: FrozenClock):
    """Approving an older request for ``trusted`` after ``government_partner`` was granted
    must not move trust down under the name of a raise."""
    org_id = verified(db, clock)
    to_trusted = request(db, clock, org_id, "trusted")
    approve(db, clock, request(db, clock, org_id, "government_partner"))
    before = row(db, org_id)
    history_before = changes(db, org_id)
    error = refused(db, Conflict, lambda s: organizations.approve_trust(
        s, actor(clock, BOB), to_trusted, "old request"))
    assert "government_partner" in error.message
    assert row(db, org_id) == before
    assert len(changes(db, org_id)) == len(history_before)


@pytest.mark.parametrize("reason", [pytest.param("", id="empty-reason"),
                                    pytest.param("x" * 501, id="overlong-reason")])
@pytest.mark.parametrize("decide", [pytest.param(organizations.approve_trust, id="approve"),
                                    pytest.param(organizations.reject_trust, id="reject")])
def test_a_decision_needs_a_reason(db: Database, clock: FrozenClock, decide, reason: str):
    """A refused decision leaves the request pending, even in a session that goes on."""
    org_id = verified(db, clock)
    request_id = request(db, clock, org_id, "trusted")
    before, rows_before = row(db, org_id), counts(db)
    error = refused(db, InvalidInput, lambda s: decide(s, actor(clock, BOB), request_id, reason))
    assert error.message == "a reason of 1 to 500 characters is required"
    stored = trust_request(db, request_id)
    assert (stored.state, stored.decided_by, stored.decided_at) == ("pending", None, None)
    assert row(db, org_id) == before
    assert counts(db) == rows_before


@pytest.mark.parametrize("decide", [pytest.param(organizations.approve_trust, id="approve"),
                                    pytest.param(organizations.reject_trust, id="reject")])
def test_deciding_an_unknown_request(db: Database, clock: FrozenClock, decide):
    error = refused(db, NotFound, lambda s: decide(s, actor(clock, BOB), "trq_nope", "why"))
    assert error.message == "no trust request with id 'trq_nope'"


# -- trust: lowering ---------------------------------------------------------------------------


def test_one_admin_lowers_trust(db: Database, clock: FrozenClock):
    org_id = verified(db, clock, "government_partner")
    for level, previous in (("trusted", "government_partner"), ("unverified", "trusted")):
        now = clock.advance(60)
        with db.transaction() as session:
            org = organizations.lower_trust(session, actor(clock, CAROL), org_id, level,
                                            f"down to {level}")
            assert org.trust_level == level
        assert row(db, org_id) == (NAME, "verified", level, None, now)
        last = changes(db, org_id)[-1]
        assert (last.action, last.actor, last.approved_by, last.reason, last.evidence) == (
            "lower_trust", CAROL, None, f"down to {level}", {})
        assert (last.from_trust, last.to_trust, last.from_status, last.to_status) == (
            previous, level, "verified", "verified")
        event = audit_events(db, "organization.trust_lowered")[-1]
        assert (event.actor, event.reason, event.details["trust"]) == (
            CAROL, f"down to {level}", [previous, level])
        assert "approved_by" not in event.details


@pytest.mark.parametrize(("level", "reason", "error", "message"), [
    pytest.param("trusted", "why", Conflict, "trusted is not lower than trusted", id="same"),
    pytest.param("government_partner", "why", Conflict,
                 "government_partner is not lower than trusted", id="higher"),
    pytest.param("royal", "why", InvalidInput, "trust level must be one of", id="unknown"),
    pytest.param("verified", "", InvalidInput, "a reason of 1 to 500 characters",
                 id="empty-reason"),
])
def test_lower_trust_refusals(db: Database, clock: FrozenClock, level, reason, error, message):
    org_id = verified(db, clock, "trusted")
    before, rows_before = row(db, org_id), counts(db)
    raised = refused(db, error, lambda s: organizations.lower_trust(
        s, actor(clock, CAROL), org_id, level, reason))
    assert message in raised.message
    assert row(db, org_id) == before
    assert counts(db) == rows_before


def test_history_of_an_unknown_organization(db: Database):
    with db.sessions() as session, pytest.raises(NotFound):
        organizations.history(session, "org_nope")
