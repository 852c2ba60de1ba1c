"""Admin roles on the admin API: what each role may do (a role-by-permission matrix over one
representative endpoint per permission), the role a change is recorded under, keys acting
with fewer roles than their admin, demotion and disabling taking effect on existing keys at
once, the last active owner, /admin/me, and the OpenAPI document naming each permission."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from entitlements.admins import service as admins
from entitlements.admins.roles import GRANTS, Permission, Role
from entitlements.audit.models import AuditEvent
from entitlements.audit.service import STREAM_OPENED
from entitlements.base.actor import Actor
from entitlements.models import Base
from entitlements.web.admin.openapi import TAGS
from tests.support.helpers import PROBLEM, problem_code

P = Permission
#: What each role may do: the matrix the admin API must enforce, written out here on its own
#: (not read from the code) so a change to the grants shows up as a failing case.
ALLOWED: dict[str, set[Permission]] = {
    "viewer": {P.READ},
    "onboarding_reviewer": {P.READ, P.ONBOARD, P.REVOKE_TOKENS, P.FLAG_ABUSE},
    "trust_approver": {P.READ, P.APPROVE_TRUST, P.FLAG_ABUSE, P.APPROVE_ABUSE},
    "policy_editor": {P.READ, P.EDIT_POLICY, P.BREAK_GLASS, P.REVOKE_TOKENS},
    "policy_approver": {P.READ, P.APPROVE_POLICY, P.BREAK_GLASS},
    "key_admin": {P.READ, P.MANAGE_KEYS},
    "owner": set(Permission),
}

#: One endpoint per permission: method, path, body, and the answer that shows the request
#: was let through (an unknown id's 404 or a stale base's 409 is authorized: the roles were
#: checked first).
ENDPOINTS: dict[Permission, tuple[str, str, Any, int, str | None]] = {
    P.READ: ("GET", "/admin/organizations", None, 200, None),
    P.ONBOARD: ("POST", "/admin/organizations", {"name": "Matrix Labs"}, 201, None),
    P.APPROVE_TRUST: ("POST", "/admin/trust-requests/trq_unknown/approve",
                      {"reason": "agreed"}, 404, "not_found"),
    P.EDIT_POLICY: ("POST", "/admin/policy/versions",
                    {"base_version": 0, "reason": "stale", "patch": {}}, 409, "stale_version"),
    P.APPROVE_POLICY: ("POST", "/admin/policy/changes/unknown/approve", {"reason": "agreed"},
                       404, "not_found"),
    P.BREAK_GLASS: ("POST", "/admin/policy/break-glass",
                    {"tiers": ["no-such-tier"], "reason": "emergency"}, 404, "unknown_tier"),
    P.REVOKE_TOKENS: ("POST", "/admin/tokens/revoke/preview", {"tier": "public"}, 200, None),
    P.FLAG_ABUSE: ("POST", "/admin/abuse-reports", {
        "subject_kind": "organization", "subject_id": "org_unknown", "category": "fraud",
        "description": "stolen cards", "evidence": [{"description": "a ticket"}]},
                   404, "not_found"),
    P.APPROVE_ABUSE: ("POST", "/admin/abuse-reports/abr_unknown/approve", {"reason": "agreed"},
                      404, "not_found"),
    P.MANAGE_KEYS: ("POST", "/admin/resources",
                    {"identifier": "https://matrix.example/models"}, 201, None),
    P.MANAGE_ADMINS: ("GET", "/admin/admins", None, 200, None),
}
CASES = [pytest.param(role, permission, id=f"{role}-{permission.value}")
         for role in ALLOWED for permission in Permission]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def issue(db, clock, name: str, roles: tuple[str, ...], key_roles: tuple[str, ...] | None = None
          ) -> str:
    """A key for admin ``name`` (added holding ``roles`` when new), acting with
    ``key_roles`` (default: ``roles``)."""
    root = Actor("cli:root", clock.now())
    with db.transaction() as session:
        if admins.find(session, name) is None:
            admins.add(session, root, name, roles)
            session.flush()
        return admins.issue(session, root, name, key_roles or roles).secret


def world(db) -> dict[str, int]:
    """How many rows every table holds, but the audit log's, and how many audit events of
    changes exist (the refusal log's own stream and its announcement aside)."""
    with db.sessions() as session:
        counts = {table.name: session.scalar(select(func.count()).select_from(table))
                  for table in Base.metadata.sorted_tables
                  if table.name not in ("audit_events", "audit_streams")}
        counts["changes audited"] = session.scalar(
            select(func.count()).select_from(AuditEvent)
            .where(AuditEvent.stream == "main", AuditEvent.action != STREAM_OPENED))
    return counts


def refusals(db, actor: str) -> list[AuditEvent]:
    with db.sessions() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.action == "admin.refused",
                                                        AuditEvent.actor == actor)
                               .order_by(AuditEvent.at, AuditEvent.seq)).all()
        session.expunge_all()
    return list(rows)


def events_about(db, target: str) -> list[AuditEvent]:
    with db.sessions() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.target == target)
                               .order_by(AuditEvent.seq)).all()
        session.expunge_all()
    return list(rows)


def call(client, key: str, permission: Permission):
    method, path, body, _, _ = ENDPOINTS[permission]
    return client.open(path, method=method, headers=bearer(key), json=body)


# -- the matrix --------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "permission"), CASES)
def test_each_role_may_do_what_it_is_granted_and_nothing_else(client, db, clock, role,
                                                              permission):
    name = f"matrix-{role}"
    key = issue(db, clock, name, (role,))
    before = world(db)
    response = call(client, key, permission)
    _, _, _, status, code = ENDPOINTS[permission]
    if permission in ALLOWED[role]:
        assert response.status_code == status, response.get_json()
        if code:
            assert problem_code(response) == code
        return
    assert response.status_code == 403, response.get_json()
    assert response.mimetype == PROBLEM
    problem = response.get_json()
    assert problem["type"] == "urn:entitlements:problem:forbidden_role"
    assert problem["status"] == 403
    assert (problem["permission"], problem["permissions"], problem["roles"]) == (
        permission.value, [permission.value], [role])
    allowed = sorted(r for r, granted in ALLOWED.items() if permission in granted)
    assert problem["detail"].endswith("roles that do: " + ", ".join(allowed))
    assert world(db) == before
    [refused] = refusals(db, f"admin:{name}")
    method, path, _, _, _ = ENDPOINTS[permission]
    assert (refused.outcome, refused.reason, refused.target) == ("failure", "forbidden_role",
                                                                 None)
    assert refused.details == {"method": method, "path": path, "status": 403}


def test_the_matrix_is_the_grants_table():
    assert {role.value: set(granted) for role, granted in GRANTS.items()} == ALLOWED
    assert set(ENDPOINTS) == set(Permission)


def test_a_viewer_lists_gateways_but_only_a_key_admin_adds_one(client, db, clock):
    viewer = issue(db, clock, "otto", ("viewer",))
    keys = issue(db, clock, "kai", ("key_admin",))
    body = {"identifier": "https://listed.example/models"}
    assert client.post("/admin/resources", headers=bearer(viewer), json=body
                       ).status_code == 403
    assert client.post("/admin/resources", headers=bearer(keys), json=body).status_code == 201
    listed = client.get("/admin/resources", headers=bearer(viewer))
    assert listed.status_code == 200
    assert [r["identifier"] for r in listed.get_json()["items"]] == [body["identifier"]]


def test_a_refused_change_by_an_admin_with_several_roles_names_them_all(client, db, clock):
    key = issue(db, clock, "dora", ("viewer", "key_admin"))
    before = world(db)
    response = client.post("/admin/organizations", headers=bearer(key), json={"name": "X"})
    assert response.status_code == 403
    problem = response.get_json()
    assert (problem["permission"], problem["roles"]) == ("onboard", ["key_admin", "viewer"])
    assert "(key_admin, viewer)" in problem["detail"]
    assert world(db) == before


@pytest.mark.settings(rate_limits=False)  # a hundred failed authentications in a row
def test_every_admin_endpoint_demands_a_key(app, client):
    """Every /admin route but the OpenAPI document answers 401 without a key, whatever the
    method, before reading the body: no view was left without ``requires``."""
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin") or rule.endpoint == "admin_openapi.openapi":
            continue
        needed = getattr(app.view_functions[rule.endpoint], "permissions", ())
        assert needed and all(isinstance(p, Permission) for p in needed), rule.rule
        path = re.sub(r"<int:\w+>", "1", rule.rule)
        path = re.sub(r"<any\(([^,)]+)[^)]*\):\w+>", lambda m: m.group(1).strip(), path)
        path = re.sub(r"<\w+>", "x_unknown", path)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method)
            assert response.status_code == 401, (method, path, response.get_json())
            checked += 1
    assert checked > 50


# -- the role a change is recorded under -----------------------------------------------------


def test_a_change_records_the_most_specific_role_that_allowed_it(client, db, clock):
    key = issue(db, clock, "carol", ("owner", "onboarding_reviewer"))
    created = client.post("/admin/organizations", headers=bearer(key),
                          json={"name": "Role Labs"})
    assert created.status_code == 201, created.get_json()
    [event] = events_about(db, created.get_json()["id"])
    assert (event.actor, event.actor_role, event.target_kind, event.organization_id) == (
        "admin:carol", "onboarding_reviewer", "organization", created.get_json()["id"])
    # What only the owner role allows is recorded under it.
    added = client.post("/admin/admins", headers=bearer(key),
                        json={"name": "erin", "roles": ["viewer"]})
    assert added.status_code == 201, added.get_json()
    [event] = events_about(db, "erin")
    assert (event.action, event.actor_role, event.target_kind) == (
        "admin.created", "owner", "admin")


def test_the_audit_log_shows_the_acting_role(client, db, clock):
    key = issue(db, clock, "frank", ("key_admin", "owner"))
    added = client.post("/admin/resources", headers=bearer(key),
                        json={"identifier": "https://roles.example/models"})
    assert added.status_code == 201, added.get_json()
    found = client.get("/admin/audit", headers=bearer(key),
                       query_string={"actor": "admin:frank"}).get_json()["items"]
    assert [(e["action"], e["actor_role"]) for e in found] == [("resource.registered",
                                                                "key_admin")]


# -- keys and the admin's roles --------------------------------------------------------------


def test_a_key_with_fewer_roles_acts_only_with_those(client, db, clock):
    narrow = issue(db, clock, "gina", ("onboarding_reviewer", "viewer"), key_roles=("viewer",))
    wide = issue(db, clock, "gina", ("onboarding_reviewer", "viewer"))
    me = client.get("/admin/me", headers=bearer(narrow)).get_json()
    assert me == {"name": "gina", "roles": ["viewer"], "permissions": ["read"]}
    before = world(db)
    refused = client.post("/admin/organizations", headers=bearer(narrow), json={"name": "X"})
    assert refused.status_code == 403
    assert refused.get_json()["roles"] == ["viewer"]
    assert world(db) == before
    allowed = client.post("/admin/organizations", headers=bearer(wide), json={"name": "X"})
    assert allowed.status_code == 201


def test_a_key_cannot_be_issued_with_a_role_its_admin_lacks(client, db, clock):
    owner = issue(db, clock, "root", ("owner",))
    issue(db, clock, "hank", ("viewer",))
    before = world(db)
    response = client.post("/admin/admins/hank/keys", headers=bearer(owner),
                           json={"roles": ["owner"]})
    assert response.status_code == 400
    assert problem_code(response) == "role_not_held"
    assert world(db) == before


def test_demoting_an_admin_narrows_their_existing_key_at_once(client, db, clock):
    owner = issue(db, clock, "root", ("owner",))
    key = issue(db, clock, "ivan", ("key_admin", "onboarding_reviewer"))
    assert client.post("/admin/organizations", headers=bearer(key),
                       json={"name": "Before"}).status_code == 201
    demoted = client.patch("/admin/admins/ivan", headers=bearer(owner),
                           json={"roles": ["key_admin"]})
    assert demoted.status_code == 200 and demoted.get_json()["roles"] == ["key_admin"]
    before = world(db)
    refused = client.post("/admin/organizations", headers=bearer(key), json={"name": "After"})
    assert refused.status_code == 403
    assert refused.get_json()["roles"] == ["key_admin"]
    assert world(db) == before
    assert client.get("/admin/me", headers=bearer(key)).get_json()["roles"] == ["key_admin"]
    assert client.post("/admin/resources", headers=bearer(key), json={
        "identifier": "https://still.example/models"}).status_code == 201
    # Promoting the admin does not widen the key beyond the roles it was issued with.
    promoted = client.patch("/admin/admins/ivan", headers=bearer(owner),
                            json={"roles": ["owner", "key_admin"]})
    assert promoted.status_code == 200
    assert client.get("/admin/me", headers=bearer(key)).get_json()["roles"] == ["key_admin"]
    assert client.get("/admin/admins", headers=bearer(key)).status_code == 403
    [updated, *_] = [e for e in events_about(db, "ivan") if e.action == "admin.updated"]
    assert (updated.actor, updated.actor_role) == ("admin:root", "owner")
    assert updated.details["before"]["roles"] == ["key_admin", "onboarding_reviewer"]
    assert updated.details["after"]["roles"] == ["key_admin"]


def test_disabling_an_admin_stops_their_keys(client, db, clock):
    owner = issue(db, clock, "root", ("owner",))
    key = issue(db, clock, "jill", ("viewer",))
    assert client.get("/admin/me", headers=bearer(key)).status_code == 200
    disabled = client.patch("/admin/admins/jill", headers=bearer(owner),
                            json={"status": "disabled"})
    assert disabled.status_code == 200 and disabled.get_json()["status"] == "disabled"
    response = client.get("/admin/me", headers=bearer(key))
    assert response.status_code == 401
    assert problem_code(response) == "unauthorized"
    enabled = client.patch("/admin/admins/jill", headers=bearer(owner),
                           json={"status": "active"})
    assert enabled.status_code == 200
    assert client.get("/admin/me", headers=bearer(key)).status_code == 200


# -- the last owner ------------------------------------------------------------------------------


@pytest.mark.parametrize("change", [
    pytest.param({"roles": ["viewer"]}, id="demoted"),
    pytest.param({"roles": ["policy_editor", "key_admin"]}, id="demoted-to-several"),
    pytest.param({"status": "disabled"}, id="disabled"),
])
def test_the_last_active_owner_cannot_be_demoted_or_disabled(client, db, clock, change):
    owner = issue(db, clock, "root", ("owner",))
    issue(db, clock, "kate", ("viewer",))
    # A disabled owner does not count: root is still the last active one.
    issue(db, clock, "spare", ("owner",))
    assert client.patch("/admin/admins/spare", headers=bearer(owner),
                        json={"status": "disabled"}).status_code == 200
    before = world(db)
    response = client.patch("/admin/admins/root", headers=bearer(owner), json=change)
    assert response.status_code == 409, response.get_json()
    assert problem_code(response) == "last_owner"
    assert world(db) == before
    root = client.get("/admin/admins/root", headers=bearer(owner)).get_json()
    assert (root["roles"], root["status"]) == (["owner"], "active")
    assert client.get("/admin/admins", headers=bearer(owner)).status_code == 200
    # With a second active owner, the first may step down.
    assert client.patch("/admin/admins/kate", headers=bearer(owner),
                        json={"roles": ["owner"]}).status_code == 200
    stepped = client.patch("/admin/admins/root", headers=bearer(owner), json=change)
    assert stepped.status_code == 200, stepped.get_json()


def test_the_last_owner_may_still_change_other_things(client, db, clock):
    owner = issue(db, clock, "root", ("owner",))
    response = client.patch("/admin/admins/root", headers=bearer(owner),
                            json={"roles": ["owner", "viewer"], "email": "root@example.org"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["roles"] == ["owner", "viewer"]


# -- who am I ------------------------------------------------------------------------------------


@pytest.mark.parametrize("roles", [("viewer",), ("policy_editor", "trust_approver"), ("owner",)])
def test_me_lists_roles_and_permissions(client, db, clock, roles):
    key = issue(db, clock, "lena", roles)
    response = client.get("/admin/me", headers=bearer(key))
    assert response.status_code == 200
    granted = set().union(*(ALLOWED[r] for r in roles))
    assert response.get_json() == {"name": "lena", "roles": sorted(roles),
                                   "permissions": sorted(p.value for p in granted)}


# -- the OpenAPI document --------------------------------------------------------------------


def test_every_operation_is_documented_with_its_permission(app, client):
    spec = client.get("/admin/openapi.json").get_json()
    rules = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/admin") and rule.endpoint != "admin_openapi.openapi":
            path = re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule.rule)
            for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
                rules[(path, method.lower())] = app.view_functions[rule.endpoint].permissions
    operations = {(path, method): operation for path, item in spec["paths"].items()
                  for method, operation in item.items()}
    assert set(operations) == set(rules)
    ids = [operation["operationId"] for operation in operations.values()]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    named = re.compile(r"Needs the (`\w+`(?: or `\w+`)*) permission \(roles: ([a-z_, ]+)\)\.")
    for where, operation in operations.items():
        assert operation["operationId"], where
        [tag] = operation["tags"]
        assert tag in TAGS, where
        match = named.search(operation["description"])
        assert match, where
        permissions = [Permission(p) for p in re.findall(r"`(\w+)`", match.group(1))]
        assert tuple(permissions) == rules[where], where
        assert match.group(2).split(", ") == sorted(
            r for r, granted in ALLOWED.items() if granted & set(permissions)), where
        assert "403" in operation["responses"] and "401" in operation["responses"], where
        assert operation["security"] == [{"adminKey": []}], where
    assert {t["name"] for t in spec["tags"]} == set(TAGS)


@pytest.mark.parametrize(("path", "method", "permission"), [
    ("/admin/organizations", "get", "read"),
    ("/admin/organizations", "post", "onboard"),
    ("/admin/trust-requests/{request_id}/approve", "post", "approve_trust"),
    ("/admin/policy/versions", "post", "edit_policy"),
    ("/admin/policy/changes/{request_id}/approve", "post", "approve_policy"),
    ("/admin/policy/break-glass", "post", "break_glass"),
    ("/admin/tokens/revoke/preview", "post", "revoke_tokens"),
    ("/admin/revocations", "post", "revoke_tokens"),
    ("/admin/abuse-reports", "post", "flag_abuse"),
    ("/admin/abuse-reports/{report_id}/approve", "post", "approve_abuse"),
    ("/admin/resources", "post", "manage_keys"),
    ("/admin/resources", "get", "read"),  # listing gateways is a read; adding one is not
    ("/admin/admins", "get", "manage_admins"),
    ("/admin/me", "get", "read"),
])
def test_the_document_names_the_permission_the_endpoint_enforces(client, path, method,
                                                                 permission):
    operation = client.get("/admin/openapi.json").get_json()["paths"][path][method]
    assert f"Needs the `{permission}` permission" in operation["description"]


# -- rejecting a policy change -----------------------------------------------------------------


def ask_for_a_change(client, key: str) -> str:
    latest = client.get("/admin/policy", headers=bearer(key)).get_json()["latest_version"]
    asked = client.post("/admin/policy/versions", headers=bearer(key), json={
        "base_version": latest, "reason": "tighten", "activate_now": True,
        "patch": {"tiers": {"public": {"description": "changed"}}}})
    assert asked.status_code == 201, asked.get_json()
    return asked.get_json()["approval"]["id"]


def test_a_policy_approver_may_reject_another_admins_change(client, db, clock):
    editor = issue(db, clock, "mona", ("policy_editor",))
    approver = issue(db, clock, "nils", ("policy_approver",))
    request_id = ask_for_a_change(client, editor)
    rejected = client.post(f"/admin/policy/changes/{request_id}/reject",
                           headers=bearer(approver), json={"reason": "not now"})
    assert rejected.status_code == 200, rejected.get_json()
    assert rejected.get_json()["state"] == "rejected"
    [event] = [e for e in events_about(db, request_id) if e.action == "policy.change_rejected"]
    assert (event.actor, event.actor_role) == ("admin:nils", "policy_approver")


def test_the_editor_who_asked_may_withdraw_and_others_may_not_reject(client, db, clock):
    editor = issue(db, clock, "mona", ("policy_editor",))
    others = {role: issue(db, clock, f"x-{role}", (role,))
              for role in ("viewer", "onboarding_reviewer", "trust_approver", "key_admin")}
    request_id = ask_for_a_change(client, editor)
    before = world(db)
    for role, key in others.items():
        refused = client.post(f"/admin/policy/changes/{request_id}/reject",
                              headers=bearer(key), json={"reason": "no"})
        assert refused.status_code == 403, role
        problem = refused.get_json()
        assert problem["permissions"] == ["approve_policy", "edit_policy"], role
        assert problem["detail"].endswith(
            "roles that do: owner, policy_approver, policy_editor"), role
    assert world(db) == before
    withdrawn = client.post(f"/admin/policy/changes/{request_id}/reject",
                            headers=bearer(editor), json={"reason": "my mistake"})
    assert withdrawn.status_code == 200, withdrawn.get_json()
    assert withdrawn.get_json()["state"] == "withdrawn"


def test_roles_are_the_seven_documented():
    assert [role.value for role in Role] == list(ALLOWED)
