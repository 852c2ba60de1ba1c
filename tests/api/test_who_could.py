"""Who could use what at an instant, through the admin API: at once or as a job, for every
organization or one, bounded lists with whole counts, and the questions history cannot
answer refused. (That it matches every token of a scripted timeline is
test_policy_timeline.py's.)"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from tests.support.admin_api import CITIZENS_ONLY
from tests.support.markers import ONE_ADMIN

pytestmark = ONE_ADMIN


def at(api, moment, **query) -> dict:
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    return api("GET", f"/reports/who-could?at={quote(moment.isoformat())}{extra}")


def tiers(rows: list[dict]) -> dict[str, list[str]]:
    return {row["id"]: row["tiers"] for row in rows}


def test_every_organization_and_person_then(api, cast, clock):
    a, b = cast["A"], cast["B"]
    before = clock.now()
    clock.advance(minutes=1)
    api.new_version("citizens only", patch=CITIZENS_ONLY, activate_now=True)
    then, now = at(api, before), at(api, clock.now())
    assert (then["policy_version"], now["policy_version"]) == (cast["version"],
                                                              cast["version"] + 1)
    assert tiers(then["organizations"]) == {a.org_id: ["public", "restricted"],
                                            b.org_id: ["public", "restricted"]}
    assert tiers(now["organizations"]) == {a.org_id: ["public"], b.org_id: ["public"]}
    assert tiers(now["persons"]) == {cast["citizen"]: ["public", "restricted"],
                                     cast["stranger"]: ["public"]}
    denied = {row["id"]: row["denied"] for row in now["persons"]}
    assert denied[cast["stranger"]]["restricted"] == "citizenship_not_verified"
    assert now["counts"] == {"organizations": 2, "persons": 2, "by_tier": {
        "public": {"organizations": 2, "persons": 2}, "restricted": {"persons": 1}}}


def test_one_organization_and_a_bounded_list(api, cast, clock):
    a = cast["A"]
    one = at(api, clock.now(), organization_id=a.org_id)
    assert [row["id"] for row in one["organizations"]] == [a.org_id]
    assert {row["organization_id"] for row in one["persons"]} == {a.org_id}
    short = at(api, clock.now(), limit=1)
    assert (len(short["organizations"]), len(short["persons"]), short["truncated"]) == (
        1, 1, True)
    assert short["counts"]["organizations"] == 2, "the counts are whole"


def test_the_questions_history_cannot_answer(api, cast, clock):
    later = quote((clock.now() + timedelta(seconds=1)).isoformat())
    api.problem("GET", f"/reports/who-could?at={later}", None, 400, "instant_in_the_future")
    api.problem("POST", "/reports/who-could", {"at": (clock.now() + timedelta(days=1))
                                               .isoformat()}, 400, "instant_in_the_future")
    now = quote(clock.now().isoformat())
    api.problem("GET", f"/reports/who-could?at={now}&organization_id=org_nope", None, 404,
                "not_found")
    api.problem("GET", "/reports/who-could?at=1960-01-01T00:00:00%2B00:00", None, 404,
                "no_active_version")
    api.problem("GET", "/reports/who-could?at=yesterday", None, 400, "invalid_input")
    api.problem("GET", f"/reports/who-could?at={now}&limit=0", None, 400, "invalid_input")
    assert api("GET", "/jobs")["items"] == []


def test_the_rebuild_as_a_job(api, cast, client, clock):
    response = api.raw("POST", "/reports/who-could", json={"at": clock.now().isoformat()})
    assert response.status_code == 202
    job = response.get_json()
    client.application.extensions["entitlements"].jobs.wait(job["id"], timeout=30)
    done = api("GET", f"/jobs/{job['id']}")
    assert (done["state"], done["done"], done["total"]) == ("done", 4, 4)
    assert done["result"] == at(api, clock.now()) | {"at": clock.now().isoformat()}
