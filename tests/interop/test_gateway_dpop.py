"""DPoP at the gateway SDK, against tokens the real service bound over loopback: a bound token
counts only with a fresh proof of its key made for this request, each refusal has its own
reason, a bound token presented as Bearer is refused (RFC 9449 7.1), nonces and replay are
the gateway's own or shared through Redis, and the policy's sender constraint routes bearer
tokens to the fallback."""

from __future__ import annotations

import os

import pytest
import redis

from entitlements.gateway.dpop import DpopOptions, MemoryReplayCache, RedisReplayCache
from entitlements.gateway.gateway import Gateway
from entitlements.kernel.dpop import ProofRefused
from tests.support.dpop import BAD_PROOFS, ProofKey, Target
from tests.support.factories import GATEWAY
from tests.support.interop import change_policy, token_for

URL = "https://models.example/v1/chat"
REDIS_URL = (f"redis://127.0.0.1:6379/"
             f"{15 - int(os.environ.get('PYTEST_XDIST_WORKER', 'gw0')[2:])}")


def make_gateway(live_server, sdk_clock, **dpop) -> Gateway:
    sdk = Gateway(live_server.url, GATEWAY, clock=sdk_clock, poll_interval=None,
                  dpop=DpopOptions(**dpop))
    assert sdk.refresh(), "the documents are at hand"
    return sdk


@pytest.fixture
def gateway(live_server, world, sdk_clock):
    sdk = make_gateway(live_server, sdk_clock)
    yield sdk
    sdk.close()


def ask(gateway, token, key, sdk_clock, *, model="frontier-2", method="POST", url=URL,
        proofs=None, scheme="dpop", **proof):
    if proofs is None:
        proofs = [key.proof(method, url, now=sdk_clock.time(), token=token, **proof)]
    return gateway.decide(token, model, scheme=scheme, proofs=proofs, method=method, url=url)


def test_a_bound_token_with_its_proof_is_allowed(gateway, bound, key, sdk_clock):
    decision = ask(gateway, bound, key, sdk_clock)
    assert (decision.outcome, decision.model, decision.reason) == ("allow", "frontier-2", None)
    # The decision is cached; the proof is not: each request needs a new one.
    again = ask(gateway, bound, key, sdk_clock)
    assert again.outcome == "allow"


def test_a_bound_token_presented_as_bearer_is_refused(gateway, bound):
    refused = gateway.decide(bound, "frontier-2")
    assert (refused.outcome, refused.reason) == ("deny", "dpop_bound_token_as_bearer")
    assert refused.token_problem and refused.proof_problem


def test_a_bearer_token_with_the_dpop_scheme_is_refused(gateway, live_server, world, key,
                                                        sdk_clock):
    bearer = token_for(live_server, world)
    refused = ask(gateway, bearer, key, sdk_clock)
    assert refused.reason == "dpop_scheme_unbound_token"
    assert gateway.decide(bearer, "frontier-2").outcome == "allow"


@pytest.mark.parametrize(("build", "reason"), [pytest.param(build, reason, id=name)
                                               for name, build, reason in BAD_PROOFS])
def test_a_bad_proof_is_refused_with_its_reason(gateway, bound, key, sdk_clock, build,
                                                reason):
    target = Target("POST", URL, sdk_clock.time(), key, token=bound)
    decision = ask(gateway, bound, key, sdk_clock, proofs=build(target))
    assert (decision.outcome, decision.reason) == ("deny", reason)
    assert decision.token_problem  # a 401, never a policy denial or an exception


@pytest.mark.parametrize(("proof", "reason"), [
    pytest.param({"claims": {"ath": "A" * 43}}, "dpop_wrong_ath", id="wrong-ath"),
    pytest.param({"drop": ("ath",)}, "dpop_wrong_ath", id="no-ath"),
])
def test_the_proof_must_hash_the_token(gateway, bound, key, sdk_clock, proof, reason):
    assert ask(gateway, bound, key, sdk_clock, **proof).reason == reason


def test_a_proof_by_another_key_is_a_key_mismatch(gateway, bound, sdk_clock):
    stranger = ProofKey()
    assert ask(gateway, bound, stranger, sdk_clock).reason == "dpop_key_mismatch"


def test_no_proof_and_a_replayed_proof(gateway, bound, key, sdk_clock):
    assert ask(gateway, bound, key, sdk_clock, proofs=[]).reason == "dpop_proof_required"
    proof = key.proof("POST", URL, now=sdk_clock.time(), token=bound)
    assert ask(gateway, bound, key, sdk_clock, proofs=[proof]).outcome == "allow"
    assert ask(gateway, bound, key, sdk_clock, proofs=[proof]).reason == "dpop_replayed"


def test_the_proof_names_the_method_and_url_served(gateway, bound, key, sdk_clock):
    proof = key.proof("POST", URL, now=sdk_clock.time(), token=bound)
    assert gateway.decide(bound, "frontier-2", scheme="dpop", proofs=[proof], method="GET",
                          url=URL).reason == "dpop_wrong_htm"
    elsewhere = key.proof("POST", URL, now=sdk_clock.time(), token=bound)
    assert gateway.decide(bound, "frontier-2", scheme="dpop", proofs=[elsewhere],
                          method="POST", url="https://models.example/v1/other"
                          ).reason == "dpop_wrong_htu"
    with_query = key.proof("POST", URL + "?stream=1", now=sdk_clock.time(), token=bound)
    assert gateway.decide(bound, "frontier-2", scheme="dpop", proofs=[with_query],
                          method="POST", url=URL + "?stream=0").outcome == "allow"


def test_behind_a_proxy_the_public_url_is_what_proofs_name(live_server, world, bound, key,
                                                          sdk_clock):
    behind = make_gateway(live_server, sdk_clock, public_url="https://models.example")
    inner = "http://10.0.0.5:8080/v1/chat"
    assert ask(behind, bound, key, sdk_clock, url=inner).reason == "dpop_wrong_htu"
    proof = key.proof("POST", URL, now=sdk_clock.time(), token=bound)
    assert behind.decide(bound, "frontier-2", scheme="dpop", proofs=[proof], method="POST",
                         url=inner).outcome == "allow"


def test_stale_and_future_proofs_follow_the_gateways_clock(gateway, bound, key, sdk_clock,
                                                           clock):
    made = sdk_clock.time()
    proof = key.proof("POST", URL, now=made, token=bound)
    clock.advance(gateway.proofs.options.max_age + gateway.leeway + 1)
    assert ask(gateway, bound, key, sdk_clock, proofs=[proof]).reason == "dpop_stale"
    early = key.proof("POST", URL, now=sdk_clock.time() + gateway.leeway + 5, token=bound)
    assert ask(gateway, bound, key, sdk_clock, proofs=[early]).reason == "dpop_future"


def test_a_gateway_that_wants_nonces_hands_them_out(live_server, world, bound, key,
                                                    sdk_clock, clock):
    wanting = make_gateway(live_server, sdk_clock, require_nonce=True, nonce_lifetime=30)
    assert ask(wanting, bound, key, sdk_clock).reason == "dpop_nonce_required"
    nonce = wanting.dpop_nonce()
    assert ask(wanting, bound, key, sdk_clock, nonce=nonce).outcome == "allow"
    clock.advance(61)
    assert ask(wanting, bound, key, sdk_clock, nonce=nonce).reason == "dpop_nonce_stale"
    assert wanting.dpop_nonce() != nonce


def test_the_policy_can_require_dpop_for_a_tier(live_server, world, gateway, bound, key,
                                                sdk_clock, db, admin):
    bearer = token_for(live_server, world)  # issued while restricted took any token
    change_policy(db, admin, "holders only",
                  patch={"tiers": {"restricted": {"sender_constraint": "dpop"}}})
    gateway.refresh()
    routed = gateway.decide(bearer, "frontier-2")
    assert (routed.outcome, routed.model, routed.reason) == ("fallback", "base-1",
                                                             "dpop_required")
    assert not routed.token_problem  # a policy answer: the fallback, not a 401
    assert ask(gateway, bound, key, sdk_clock).outcome == "allow"


def test_the_memory_replay_cache_is_bounded_and_never_forgets_unsafely():
    cache = MemoryReplayCache(max_entries=3)
    for i in range(3):
        assert cache.first_use(f"k{i}", iat=100 + i, keep=60, now=100 + i)
    assert not cache.first_use("k1", iat=101, keep=60, now=103)
    assert cache.first_use("k3", iat=103, keep=60, now=103)  # k0 makes way
    assert len(cache) == 3
    with pytest.raises(ProofRefused) as refused:  # k0's age: it might be k0 again
        cache.first_use("k0", iat=100, keep=60, now=103)
    assert refused.value.reason == "dpop_stale"
    assert cache.first_use("k9", iat=200, keep=60, now=200)  # the expired are dropped first
    assert len(cache) == 1


@pytest.fixture
def shared_redis():
    connection = redis.Redis.from_url(REDIS_URL)
    connection.flushdb()
    yield connection
    connection.close()


def test_gateways_share_spent_proofs_through_redis(live_server, world, bound, key, sdk_clock,
                                                   shared_redis):
    one = make_gateway(live_server, sdk_clock, replays=RedisReplayCache(shared_redis))
    two = make_gateway(live_server, sdk_clock, replays=RedisReplayCache(shared_redis))
    proof = key.proof("POST", URL, now=sdk_clock.time(), token=bound)
    assert ask(one, bound, key, sdk_clock, proofs=[proof]).outcome == "allow"
    assert ask(two, bound, key, sdk_clock, proofs=[proof]).reason == "dpop_replayed"


def test_an_unreachable_shared_replay_cache_is_unavailable_not_allowed(live_server, world,
                                                                       bound, key, sdk_clock):
    down = redis.Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.2)
    sdk = make_gateway(live_server, sdk_clock, replays=RedisReplayCache(down))
    decision = ask(sdk, bound, key, sdk_clock)
    assert (decision.outcome, decision.reason) == ("deny", "dpop_replay_unavailable")
    assert decision.unavailable


def test_without_the_url_served_no_proof_matches(gateway, bound, key, sdk_clock):
    for url in ("", "http://h:notaport/v1/chat", "garbage"):
        proof = key.proof("POST", url or "garbage", now=sdk_clock.time(), token=bound)
        assert gateway.decide(bound, "frontier-2", scheme="dpop", proofs=[proof],
                              method="POST", url=url).reason == "dpop_wrong_htu"


def test_behind_a_proxy_a_query_cannot_pose_as_the_path(live_server, world, bound, key,
                                                        sdk_clock):
    behind = make_gateway(live_server, sdk_clock, public_url="https://models.example")
    proof = key.proof("POST", "https://models.example/admin", now=sdk_clock.time(),
                      token=bound)
    assert behind.decide(bound, "frontier-2", scheme="dpop", proofs=[proof], method="POST",
                         url="http://10.0.0.5?x=/admin").reason == "dpop_wrong_htu"


def test_a_flood_by_one_client_costs_the_others_nothing():
    cache = MemoryReplayCache(max_entries=3)
    now = 1000.0
    assert cache.first_use("honest.1", iat=now - 5, keep=60, now=now)
    flood = []
    for i in range(10):  # a flood dated as far ahead as the leeway allows
        try:
            flood.append(cache.first_use(f"flooder.{i}", iat=now + 30, keep=90, now=now))
        except ProofRefused as refused:
            flood.append(refused.reason)
    # Once the flood pushed out one of its own, the flooder's floor stops the rest.
    assert flood[:3] == [True, True, True] and flood[-1] == "dpop_stale"
    # The honest client's forgotten proof stays refused; its new ones are fine.
    with pytest.raises(ProofRefused):
        cache.first_use("honest.1", iat=now - 5, keep=60, now=now)
    assert cache.first_use("honest.2", iat=now, keep=60, now=now)
    # The flooder's forgotten proofs are refused: its own floor rose.
    with pytest.raises(ProofRefused):
        cache.first_use("flooder.0", iat=now + 30, keep=90, now=now)


@pytest.mark.parametrize("nonce", ["é", "x" * 65, ""], ids=["non-ascii", "too-long", "empty"])
def test_an_odd_nonce_is_stale_not_an_error(live_server, world, bound, key, sdk_clock, nonce):
    wanting = make_gateway(live_server, sdk_clock, require_nonce=True)
    decision = ask(wanting, bound, key, sdk_clock, claims={"nonce": nonce})
    assert decision.reason in ("dpop_nonce_stale", "dpop_nonce_required")
