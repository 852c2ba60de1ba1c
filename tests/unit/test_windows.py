"""The in-memory sliding windows count as the limits library's sliding-window counter does."""

from __future__ import annotations

import random

import pytest
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from entitlements.web.windows import LocalWindows


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_window_allows_its_amount_then_refuses():
    clock = Clock()
    windows = LocalWindows(clock=clock)
    item = parse("3/minute")
    assert [windows.hit(item, "address", "a") for _ in range(4)] == [True, True, True, False]
    assert windows.test(item, "address", "a") is False
    assert windows.hit(item, "address", "b"), "another key has its own count"
    stats = windows.get_window_stats(item, "address", "a")
    assert stats.remaining == 0 and stats.reset_time > clock.now


def test_the_previous_window_weighs_less_as_it_slides_out():
    clock = Clock(6_000.0)  # the start of a minute
    windows = LocalWindows(clock=clock)
    item = parse("4/minute")
    for _ in range(4):
        assert windows.hit(item, "k")
    clock.now += 60 + 15  # a quarter into the next minute: 3 of the 4 still count
    assert windows.hit(item, "k")
    assert not windows.hit(item, "k")
    clock.now += 30  # three quarters in: 1 of the 4 counts, plus the 1 counted
    assert windows.hit(item, "k") and windows.hit(item, "k")
    assert not windows.hit(item, "k")
    clock.now += 120  # two windows later nothing is left
    assert windows.get_window_stats(item, "k").remaining == 4


def test_test_counts_nothing():
    windows = LocalWindows(clock=Clock())
    item = parse("1/second")
    assert all(windows.test(item, "k") for _ in range(5))
    assert windows.hit(item, "k") and not windows.hit(item, "k")


def test_keys_beyond_the_bound_are_forgotten_oldest_first():
    windows = LocalWindows(max_keys=2, clock=Clock())
    item = parse("1/hour")
    for key in ("a", "b"):
        assert windows.hit(item, key)
    assert not windows.hit(item, "a")  # a is now the most recently counted
    assert windows.hit(item, "c")  # b is forgotten
    assert len(windows._windows) == 2
    assert windows.hit(item, "b"), "b starts again (and a, least recent now, goes)"
    assert windows.hit(item, "a")
    assert not windows.hit(item, "b")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_same_answers_as_the_limits_library(seed, monkeypatch):
    clock = Clock(float(1_700_000_000 // 60 * 60))
    monkeypatch.setattr("time.time", clock)
    theirs = SlidingWindowCounterRateLimiter(MemoryStorage())
    ours = LocalWindows(clock=clock)
    item, rng = parse("5/minute"), random.Random(seed)
    answers = []
    for _ in range(200):
        clock.now += rng.choice((0.37, 2.1, 7.3, 31.9))  # off exact boundaries
        answers.append((ours.hit(item, "k"), theirs.hit(item, "k")))
    assert all(a == b for a, b in answers), answers
    assert {a for a, _ in answers} == {True, False}
