"""The authorization service's count of decisions (entitlements.gateway.authz.DecisionCounts):
counted without a lock by each connection's thread, added up exactly, never going down as
connections close."""

from __future__ import annotations

import threading

from entitlements.gateway.authz import DecisionCounts

ALLOW, DENY = ("allow", None), ("deny", "expired")


def test_every_decision_is_counted_once_across_threads_that_come_and_go():
    counts = DecisionCounts()
    seen: list[int] = []
    stop = threading.Event()

    def connection(n: int) -> None:
        for i in range(n):
            counts.add(ALLOW if i % 3 else DENY)
        counts.close()

    def reader() -> None:  # /metrics, read while connections count and close
        while not stop.is_set():
            seen.append(sum(counts.totals().values()))

    watching = threading.Thread(target=reader)
    watching.start()
    threads = [threading.Thread(target=connection, args=(3000,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    watching.join()
    assert counts.totals() == {ALLOW: 8 * 2000, DENY: 8 * 1000}
    assert seen == sorted(seen), "a total never goes down"


def test_the_metric_is_prometheus_counter_text():
    counts = DecisionCounts()
    counts.add(DENY)
    counts.add(ALLOW)
    counts.add(ALLOW)
    family = next(iter(counts.collect()))
    samples = {(s.name, s.labels["outcome"], s.labels["reason"]): s.value
               for s in family.samples}
    assert samples == {("entitlements_gateway_decisions_total", "allow", "none"): 2,
                       ("entitlements_gateway_decisions_total", "deny", "expired"): 1}
