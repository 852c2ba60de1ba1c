"""What gateways and partners read: the signed policy snapshot (GET /policy), the token
status lists (GET /status-lists, /status-lists/<id>), each verifiable with /jwks.json and
served with ETags for conditional GETs; every token's status reference and policy version;
the issuer metadata; bits flipped by suspension and client revocation; and the partner
explain endpoint (POST /policy/explain)."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import timedelta

import jwt
import pytest

from entitlements.base.published import DOCUMENT_LIFETIME, RESIGN_SECONDS
from entitlements.kernel.status_list import StatusList
from tests.support.admin_api import CITIZENS_ONLY, PROBLEM
from tests.support.helpers import basic, problem_code
from tests.support.markers import ONE_ADMIN

pytestmark = ONE_ADMIN

ISSUER = "http://127.0.0.1:8000"  # the default issuer the test settings keep
FORM = "application/x-www-form-urlencoded"


def verified(client, path: str, typ: str, headers: dict | None = None) -> tuple[dict, str]:
    """A published document's claims, its signature checked with the published JWKS, and
    its ETag."""
    response = client.get(path, headers=headers or {})
    assert response.status_code == 200, response.get_data(as_text=True)
    etag = response.headers["ETag"]
    assert etag and response.headers["Cache-Control"] == "no-cache"
    token = response.get_data(as_text=True)
    header = jwt.get_unverified_header(token)
    assert header["typ"] == typ
    jwks = client.get("/jwks.json").get_json()
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    return jwt.decode(token, jwt.PyJWK(key).key, algorithms=[key["alg"]],
                      options={"verify_exp": False, "verify_iat": False}), etag


def conditional(client, path: str, etag: str) -> int:
    response = client.get(path, headers={"If-None-Match": etag})
    if response.status_code == 304:
        assert response.get_data() == b""
        assert response.headers["ETag"] == etag
    return response.status_code


def bit(client, token: dict) -> int:
    ref = token["status"]["status_list"]
    path = ref["uri"][len(ISSUER):]
    status, _ = verified(client, path, "statuslist+jwt")
    assert status["sub"] == ref["uri"] and status["iss"] == ISSUER
    return StatusList.decode(status["status_list"]).get(ref["idx"])


# -- GET /policy ---------------------------------------------------------------------------------


def test_the_policy_snapshot_is_signed_and_conditional(api, cast, client, clock):
    start = cast["version"]
    snap, etag = verified(client, "/policy", "entitlements-policy+jwt")
    document = api("GET", f"/policy/versions/{start}")["document"]
    now = int(clock.now().timestamp())
    assert (snap["iss"], snap["ver"]) == (ISSUER, start)
    assert snap["iat"] == now - now % RESIGN_SECONDS
    assert snap["exp"] == snap["iat"] + DOCUMENT_LIFETIME
    assert (snap["tiers"], snap["models"]) == (document["tiers"], document["models"])
    assert client.get("/policy").mimetype == "application/jwt"
    assert conditional(client, "/policy", etag) == 304
    clock.advance(seconds=RESIGN_SECONDS)
    assert conditional(client, "/policy", etag) == 200, "re-signed each period: exp moves on"
    resigned, etag = verified(client, "/policy", "entitlements-policy+jwt")
    assert resigned["iat"] == snap["iat"] + RESIGN_SECONDS
    assert (resigned["ver"], resigned["activation"], resigned["activated_at"]) == (
        snap["ver"], snap["activation"], snap["activated_at"])
    assert conditional(client, "/policy", etag) == 304

    # A version that is not active does not change the snapshot.
    pending = api.new_version("suspend restricted", patch={
        "tiers": {"restricted": {"status": "suspended"}}})["version"]["version"]
    assert conditional(client, "/policy", etag) == 304

    api("POST", f"/policy/versions/{pending}/activate", {"reason": "now"}, 201)
    assert conditional(client, "/policy", etag) == 200
    changed, new_etag = verified(client, "/policy", "entitlements-policy+jwt")
    assert new_etag != etag
    assert (changed["ver"], changed["tiers"]["restricted"]["status"]) == (pending, "suspended")
    assert changed["activation"] > snap["activation"]
    assert changed["activated_at"] == clock.now().timestamp() > snap["activated_at"]
    assert conditional(client, "/policy", new_etag) == 304


def test_every_process_signs_the_same_claims_under_the_same_etag(api, cast, client, make_app,
                                                                 clock, db):
    """Gateways poll whichever process answers: another process's copy of an unchanged
    document must be a 304, not a new download every poll."""
    api.token(cast["A"])
    other = make_app().test_client()
    for path, typ in (("/policy", "entitlements-policy+jwt"), ("/status-lists/1",
                                                               "statuslist+jwt")):
        mine, etag = verified(client, path, typ)
        response = other.get(path)
        assert response.headers["ETag"] == etag and etag.startswith('W/"')
        assert jwt.decode(response.get_data(as_text=True),
                          options={"verify_signature": False}) == mine
        assert conditional(other, path, etag) == 304


def test_the_snapshot_follows_a_scheduled_activation(api, cast, client, clock):
    _, etag = verified(client, "/policy", "entitlements-policy+jwt")
    at = clock.now() + timedelta(hours=1)
    number = api.new_version("open early access later", activate_at=at.isoformat(), patch={
        "tiers": {"early-access": {"status": "open"}}})["version"]["version"]
    assert conditional(client, "/policy", etag) == 304
    clock.advance(hours=1)
    assert conditional(client, "/policy", etag) == 200
    snap, _ = verified(client, "/policy", "entitlements-policy+jwt")
    assert (snap["ver"], snap["tiers"]["early-access"]["status"]) == (number, "open")


def test_the_policy_snapshot_over_loopback(live_server):
    with urllib.request.urlopen(f"{live_server.url}/policy") as response:
        etag = response.headers["ETag"]
        token = response.read().decode()
    assert jwt.decode(token, options={"verify_signature": False})["ver"] == 1
    request = urllib.request.Request(f"{live_server.url}/policy",
                                     headers={"If-None-Match": etag})
    with pytest.raises(urllib.error.HTTPError) as not_modified:
        urllib.request.urlopen(request)
    with not_modified.value as response:
        assert response.code == 304


# -- tokens and status lists ---------------------------------------------------------------------


def test_every_token_carries_its_status_reference_and_policy_version(api, cast, client):
    a, b, key, start = cast["A"], cast["B"], cast["idp_key"], cast["version"]
    tokens = [api.token(a), api.token(b), api.person_token(a, key, "citizen")]
    refs = [t["status"]["status_list"] for t in tokens]
    assert all(set(r) == {"idx", "uri"} for r in refs)
    assert {r["uri"] for r in refs} == {f"{ISSUER}/status-lists/1"}
    assert len({r["idx"] for r in refs}) == 3, "every token its own index"
    assert all(isinstance(r["idx"], int) and r["idx"] >= 0 for r in refs)
    assert [t["pol_ver"] for t in tokens] == [start] * 3

    newer = api.new_version("suspend restricted", activate_now=True, patch={
        "tiers": {"restricted": {"status": "suspended"}}})["version"]["version"]
    assert api.token(a)["pol_ver"] == newer
    assert client.get("/status-lists").get_json() == {
        "status_lists": [f"{ISSUER}/status-lists/1"]}


def test_a_status_list_is_signed_conditional_and_flips_on_revocation(api, cast, client):
    a, b = cast["A"], cast["B"]
    first, second = api.token(a), api.token(b)
    assert first["status"]["status_list"]["idx"] != second["status"]["status_list"]["idx"]
    status, etag = verified(client, "/status-lists/1", "statuslist+jwt")
    assert client.get("/status-lists/1").mimetype == "application/statuslist+jwt"
    assert (status["sub"], status["iss"], status["ttl"]) == (
        f"{ISSUER}/status-lists/1", ISSUER, 1)
    assert status["exp"] == status["iat"] + DOCUMENT_LIFETIME
    bits = StatusList.decode(status["status_list"])
    assert (bits.bits, bits.get(first["status"]["status_list"]["idx"]),
            bits.get(second["status"]["status_list"]["idx"])) == (1, 0, 0)
    assert conditional(client, "/status-lists/1", etag) == 304
    api.token(a)  # a new token is not a change of any bit
    assert conditional(client, "/status-lists/1", etag) == 304

    assert api("POST", "/tokens/revoke", {"reason": "incident", "organization_id": b.org_id}
               ) == {"revoked": 1}
    assert conditional(client, "/status-lists/1", etag) == 200
    _, new_etag = verified(client, "/status-lists/1", "statuslist+jwt")
    assert new_etag != etag
    assert (bit(client, first), bit(client, second)) == (0, 1)
    assert conditional(client, "/status-lists/1", new_etag) == 304


def test_unknown_status_lists_are_not_found(api, cast, client):
    api.token(cast["A"])
    response = client.get("/status-lists/99")
    assert response.status_code == 404 and response.mimetype == PROBLEM
    assert client.get("/status-lists/nope").status_code == 404
    huge = client.get("/status-lists/" + "9" * 30)  # beyond the id column: still a 404
    assert huge.status_code == 404 and huge.mimetype == PROBLEM
    assert client.get("/status-lists").get_json() == {
        "status_lists": [f"{ISSUER}/status-lists/1"]}


def test_no_status_list_before_the_first_token(client):
    assert client.get("/status-lists").get_json() == {"status_lists": []}


def test_the_issuer_metadata_advertises_the_published_documents(client):
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        metadata = client.get(path).get_json()
        assert (metadata["policy_snapshot_uri"], metadata["status_lists_uri"],
                metadata["policy_explain_endpoint"]) == (
            f"{ISSUER}/policy", f"{ISSUER}/status-lists", f"{ISSUER}/policy/explain")
        assert {"pol_ver", "status"} <= set(metadata["claims_supported"])


def test_suspending_an_organization_and_revoking_a_client_flip_their_bits(api, cast, admin,
                                                                          client):
    a, b = cast["A"], cast["B"]
    a2 = admin.client(a.org_id)
    a_token, a2_token, b_token = api.token(a), api.token(a2), api.token(b)
    person = api.person_token(a, cast["idp_key"], "citizen")
    assert [bit(client, t) for t in (a_token, a2_token, b_token, person)] == [0, 0, 0, 0]

    api("POST", f"/clients/{a2.client_id}/revoke", {"reason": "leaked"})
    assert [bit(client, t) for t in (a_token, a2_token, b_token, person)] == [0, 1, 0, 0]
    event = api.events("tokens.revoked")[-1]
    assert (event.details["filters"], event.details["count"]) == (
        {"client_id": a2.client_id}, 1)

    api("POST", f"/organizations/{a.org_id}/suspend", {"reason": "unpaid"})
    assert [bit(client, t) for t in (a_token, a2_token, b_token, person)] == [1, 1, 0, 1]
    event = api.events("tokens.revoked")[-1]
    assert (event.details["filters"], event.details["count"]) == (
        {"organization_id": a.org_id}, 2)
    assert event.reason == "organization suspend: unpaid"

    # Nothing live to revoke: no empty tokens.revoked event.
    count = len(api.events("tokens.revoked"))
    api("POST", f"/clients/{b.client_id}/revoke", {"reason": "rotated"})
    assert [bit(client, t) for t in (a_token, a2_token, b_token, person)] == [1, 1, 1, 1]
    assert len(api.events("tokens.revoked")) == count + 1
    clean = admin.partner("Org C", tiers=())
    assert api("POST", f"/clients/{clean.client_id}/revoke", {"reason": "x"})
    assert len(api.events("tokens.revoked")) == count + 1


def test_lowering_trust_and_suspending_a_verifier_or_an_idp_flip_the_bits_they_vouched_for(
        api, cast, client):
    a, b = cast["A"], cast["B"]
    a_token, b_token = api.token(a), api.token(b)
    citizen = api.person_token(a, cast["idp_key"], "citizen")
    stranger = api.person_token(a, cast["idp_key"], "stranger")
    tokens = (a_token, b_token, citizen, stranger)
    assert citizen["citizenship"] and not stranger.get("citizenship")

    [verifier] = api("GET", "/attestation-issuers")["items"]
    api("POST", f"/attestation-issuers/{verifier['id']}/suspend", {"reason": "breach"})
    assert [bit(client, t) for t in tokens] == [0, 0, 1, 0], "only whom it vouched for"
    event = api.events("tokens.revoked")[-1]
    assert (event.details["filters"], event.details["count"], event.reason) == (
        {"attestation_issuer": verifier["id"]}, 1, "attestation issuer suspended: breach")
    assert event.details["jtis"] == [citizen["jti"]]

    [idp] = api("GET", f"/organizations/{a.org_id}/identity-providers")["items"]
    api("POST", f"/identity-providers/{idp['id']}/suspend", {"reason": "compromised"})
    assert [bit(client, t) for t in tokens] == [0, 0, 1, 1]
    event = api.events("tokens.revoked")[-1]
    assert (event.details["filters"], event.details["count"]) == (
        {"identity_provider": idp["id"]}, 1)

    lowered = api("POST", f"/organizations/{a.org_id}/lower-trust",
                  {"level": "verified", "reason": "audit finding"})
    assert lowered["trust_level"] == "verified"
    assert [bit(client, t) for t in tokens] == [1, 0, 1, 1]
    event = api.events("tokens.revoked")[-1]
    assert (event.details["filters"], event.reason) == (
        {"organization_id": a.org_id}, "organization lower_trust: audit finding")
    fresh = api.token(a)
    assert (fresh["org"]["trust"], bit(client, fresh)) == ("verified", 0)


def test_lower_trust_refuses_what_would_not_lower_it(api, cast, client):
    b = cast["B"]
    api.token(b)
    count = len(api.events("tokens.revoked"))
    api.problem("POST", f"/organizations/{b.org_id}/lower-trust",
                {"level": "trusted", "reason": "x"}, 409, "conflict")
    api.problem("POST", f"/organizations/{b.org_id}/lower-trust",
                {"level": "government_partner", "reason": "x"}, 400, "invalid_input")
    api.problem("POST", "/organizations/org_nope/lower-trust",
                {"level": "verified", "reason": "x"}, 404, "not_found")
    assert len(api.events("tokens.revoked")) == count, "nothing revoked"


# -- POST /policy/explain (partners) -------------------------------------------------------------


def explain(client, partner, **form: str):
    return client.post("/policy/explain", data=form,
                       headers=basic(partner.client_id, partner.client_secret))


def test_a_partner_explains_itself(api, cast, client):
    a = cast["A"]
    response = explain(client, a, model="frontier-2", tiers="public restricted early-access")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["policy_version"], body["subject"]) == (cast["version"],
                                                         {"organization_id": a.org_id})
    assert body["granted"] == ["public", "restricted"]
    assert body["denied"] == {"early-access": {
        "reason": "tier_suspended", "message": "the tier is suspended"}}
    assert body["model"] == {"outcome": "allow", "requested": "frontier-2",
                             "tier": "restricted", "route_to": "frontier-2"}
    everything = explain(client, a).get_json()
    assert everything["granted"] == ["public", "restricted"] and "model" not in everything
    assert list(everything["denied"]) == ["early-access"]
    preview = explain(client, a, model="preview-3").get_json()["model"]
    assert (preview["outcome"], preview["route_to"], preview["reason"]) == (
        "fallback", "frontier-2", "tier_suspended")
    unknown = explain(client, a, model="nonesuch").get_json()["model"]
    assert (unknown["outcome"], unknown["tier"], unknown["route_to"], unknown["reason"]) == (
        "deny", None, None, "unknown_model")


def test_a_partner_explains_its_own_persons(api, cast, client):
    a = cast["A"]
    api.new_version("citizens only", activate_now=True, patch=CITIZENS_ONLY)
    itself = explain(client, a, model="frontier-2").get_json()["model"]
    assert (itself["outcome"], itself["route_to"], itself["reason"]) == (
        "fallback", "base-1", "person_subject_required")
    citizen = explain(client, a, model="frontier-2", person_id=cast["citizen"]).get_json()
    assert citizen["subject"] == {"person_id": cast["citizen"], "organization_id": a.org_id}
    assert citizen["model"]["outcome"] == "allow"
    assert citizen["granted"] == ["public", "restricted"]
    stranger = explain(client, a, model="frontier-2", tiers="restricted",
                       person_id=cast["stranger"]).get_json()
    assert stranger["granted"] == []
    assert stranger["denied"]["restricted"]["reason"] == "citizenship_not_verified"
    assert (stranger["model"]["outcome"], stranger["model"]["route_to"],
            stranger["model"]["reason"]) == ("fallback", "base-1", "citizenship_not_verified")


def test_a_partner_cannot_explain_another_organizations_person(cast, client):
    for person_id in (cast["citizen"], "per_nonesuch"):
        response = explain(client, cast["B"], model="frontier-2", person_id=person_id)
        assert response.status_code == 404
        assert problem_code(response) == "unknown_person"


@pytest.mark.parametrize("headers", [
    pytest.param(lambda p: basic(p.client_id, "wrong-secret"), id="wrong-secret"),
    pytest.param(lambda p: basic("cli_nonesuch", "x"), id="unknown-client"),
    pytest.param(lambda p: {}, id="none"),
])
def test_explain_needs_client_authentication(cast, client, headers):
    response = client.post("/policy/explain", data={"model": "base-1"},
                           headers=headers(cast["A"]))
    assert response.status_code == 401
    assert problem_code(response) == "invalid_client"


def test_a_suspended_organizations_client_cannot_explain(api, cast, client):
    api("POST", f"/organizations/{cast['B'].org_id}/suspend", {"reason": "unpaid"})
    response = explain(client, cast["B"], model="base-1")
    assert response.status_code == 401 and problem_code(response) == "invalid_client"


@pytest.mark.parametrize("form", [
    pytest.param({"model": "m" * 65}, id="long-model"),
    pytest.param({"model": ""}, id="empty-model"),
    pytest.param({"tiers": " ".join(f"t{i}" for i in range(51))}, id="too-many-tiers"),
])
def test_explain_refuses_bad_parameters(cast, client, form):
    response = explain(client, cast["A"], **form)
    assert response.status_code == 400
    assert problem_code(response) == "invalid_request"


def test_explain_wants_a_form_body(cast, client):
    a = cast["A"]
    response = client.post("/policy/explain", json={"model": "base-1"},
                           headers=basic(a.client_id, a.client_secret))
    assert response.status_code == 400
    assert problem_code(response) == "invalid_request"
