"""Allowlist edits cost what they change, not the list's length: an edit looks up only the
organizations it adds, its diff names the member it adds or removes, and the organization's
tiers come from a search of each list; every check and event stays."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select

from entitlements.audit.models import AuditEvent
from entitlements.base.actor import Actor
from entitlements.base.clock import FrozenClock
from entitlements.base.db import Database
from entitlements.base.errors import InvalidInput
from entitlements.organizations import service as organizations
from entitlements.policy import service as policy

ALICE = "admin:alice"
TIER = "early-access"


def actor(clock: FrozenClock) -> Actor:
    return Actor(ALICE, clock.now())


def orgs(db: Database, clock: FrozenClock, count: int) -> list[str]:
    with db.transaction() as session:
        return [organizations.create(session, actor(clock), f"Listed {i}").id
                for i in range(count)]


def listed(db: Database, clock: FrozenClock, allowlist: list[str]) -> int:
    """A version whose ``TIER`` lists ``allowlist``, active now; its number."""
    with db.transaction() as session:
        row = policy.create_version(session, actor(clock), reason="list",
                                    base_version=policy.latest(session).version,
                                    patch={"tiers": {TIER: {"allowlist": allowlist}}})
        policy.activate(session, actor(clock), row.version, reason="list")
        return row.version


@contextmanager
def organization_lookups(db: Database) -> Iterator[list[list[str]]]:
    """The organization ids each statement reading ``organizations`` by id asked for."""
    seen: list[list[str]] = []

    def record(conn, cursor, statement, params, context, executemany) -> None:
        if "FROM organizations" in statement and " IN (" in statement:
            seen.append(sorted(v for v in (params.values() if isinstance(params, dict)
                                           else params) if isinstance(v, str)))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_an_edit_looks_up_only_the_organization_it_adds(db: Database, clock: FrozenClock):
    *others, newcomer = orgs(db, clock, 6)
    listed(db, clock, others)
    with organization_lookups(db) as lookups, db.transaction() as session:
        policy.grant_tier(session, actor(clock), newcomer, TIER)
    assert lookups == [[newcomer]]
    with organization_lookups(db) as lookups, db.transaction() as session:
        policy.revoke_tier(session, actor(clock), others[0], TIER)
    assert lookups == []


def test_a_new_name_on_a_long_list_is_still_checked(db: Database, clock: FrozenClock):
    known = orgs(db, clock, 3)
    number = listed(db, clock, known)
    with pytest.raises(InvalidInput, match="unknown organizations on allowlists: org_typo"), \
            db.transaction() as session:
        policy.create_version(session, actor(clock), base_version=number, reason="typo",
                              patch={"tiers": {TIER: {"allowlist": [*known, "org_typo"]}},
                                     "models": {}})


def test_an_edit_keeps_the_list_sorted_each_once_and_names_the_change(db: Database,
                                                                      clock: FrozenClock):
    a, b, c = sorted(orgs(db, clock, 3))
    listed(db, clock, [b, a, b])
    with db.transaction() as session:
        granted = policy.grant_tier(session, actor(clock), c, TIER)
        assert granted.document["tiers"][TIER]["allowlist"] == [a, b, c]
        assert granted.diff == [
            {"path": f"/tiers/{TIER}/allowlist/{c}", "before": None, "after": c}]
    with db.transaction() as session:
        revoked = policy.revoke_tier(session, actor(clock), a, TIER)
        assert revoked.document["tiers"][TIER]["allowlist"] == [b, c]
        assert revoked.diff == [
            {"path": f"/tiers/{TIER}/allowlist/{a}", "before": a, "after": None}]
    with db.sessions() as session:
        created = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "policy.version_created").order_by(AuditEvent.at.desc(),
                                                                    AuditEvent.seq.desc())
        ).first()
        assert created.details["diff"] == revoked.diff
        actions = [e.action for e in session.scalars(
            select(AuditEvent).order_by(AuditEvent.at, AuditEvent.seq))][-3:]
    assert actions == ["policy.version_created", "policy.activated",
                       "organization.tier_revoked"]


def test_tiers_listing_is_one_organizations_entry_of_the_map(db: Database, clock: FrozenClock):
    a, b = orgs(db, clock, 2)
    with db.transaction() as session:
        policy.grant_tier(session, actor(clock), a, TIER)
        policy.grant_tier(session, actor(clock), a, "public")
        policy.grant_tier(session, actor(clock), b, "public")
    with db.sessions() as session:
        every = policy.allowlisted_tiers(session, clock.now())
        for org_id in (a, b, "org_elsewhere"):
            assert policy.tiers_listing(session, clock.now(), org_id) == every.get(org_id, [])
    assert every[a] == sorted([TIER, "public"])
