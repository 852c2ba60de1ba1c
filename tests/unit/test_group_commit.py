"""Group commit: concurrent items share one write; a refused item fails only its request."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import pytest

from entitlements.base.errors import TemporarilyUnavailable
from entitlements.tokens.group_commit import GroupCommit
from tests.support.helpers import eventually


class Store:
    """Records each write's items; the first write can be held until released."""

    def __init__(self, refuse: frozenset[int] = frozenset()) -> None:
        self.batches: list[list[int]] = []
        self.refuse = refuse
        self.entered, self.release = threading.Event(), threading.Event()
        self.hold = False

    def write(self, items: list[int]) -> None:
        if self.hold and not self.batches:
            self.entered.set()
            self.release.wait(5)
        if self.refuse & set(items):
            self.batches.append([])
            raise ValueError(f"refused {sorted(self.refuse & set(items))}")
        self.batches.append(list(items))


def queued(group: GroupCommit) -> int:
    with group._lock:
        return len(group._queue)


@contextmanager
def behind_a_held_write(store: Store, group: GroupCommit, items: range
                        ) -> Iterator[tuple[Future, dict[int, Future]]]:
    """Item 0 submitted and its write held; ``items`` submitted behind it and all queued;
    then the write released. Yields item 0's future and the others' by item."""
    store.hold = True
    with ThreadPoolExecutor(len(items) + 1) as pool:
        first = pool.submit(group.submit, 0)
        assert store.entered.wait(5)
        rest = {i: pool.submit(group.submit, i) for i in items}
        assert eventually(lambda: queued(group) == len(items))
        store.release.set()
        yield first, rest


def test_items_that_wait_behind_a_write_are_written_together():
    store = Store()
    group = GroupCommit(store.write, max_batch=64)
    with behind_a_held_write(store, group, range(1, 8)) as (first, rest):
        assert [f.result(5) for f in (first, *rest.values())] == [None] * 8
    assert store.batches[0] == [0]
    assert sorted(store.batches[1]) == list(range(1, 8)), "one write for the seven queued"
    assert len(store.batches) == 2


def test_a_batch_never_exceeds_its_bound():
    store = Store()
    group = GroupCommit(store.write, max_batch=3)
    with behind_a_held_write(store, group, range(1, 8)) as (first, rest):
        for future in (first, *rest.values()):
            future.result(5)
    assert [len(batch) for batch in store.batches] == [1, 3, 3, 1]
    assert sorted(i for batch in store.batches for i in batch) == list(range(8))


def test_a_refused_item_fails_its_own_request_only():
    store = Store(refuse=frozenset({3}))
    group = GroupCommit(store.write)
    with behind_a_held_write(store, group, range(1, 6)) as (first, rest):
        first.result(5)
        with pytest.raises(ValueError, match=r"refused \[3\]"):
            rest[3].result(5)
        assert [rest[i].result(5) for i in (1, 2, 4, 5)] == [None] * 4
    written = sorted(i for batch in store.batches for i in batch)
    assert written == [0, 1, 2, 4, 5]


def test_a_lone_write_that_fails_raises_to_its_caller_and_the_next_one_leads():
    store = Store(refuse=frozenset({1}))
    group = GroupCommit(store.write)
    with pytest.raises(ValueError):
        group.submit(1)
    group.submit(2)
    assert store.batches == [[], [2]]


def test_an_item_that_waits_too_long_is_refused_and_never_written():
    store = Store()
    store.hold = True
    group = GroupCommit(store.write, wait=0.05)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(group.submit, 0)
        assert store.entered.wait(5)
        with pytest.raises(TemporarilyUnavailable):
            group.submit(1)
        store.release.set()
        first.result(5)
    group.submit(2)
    assert store.batches == [[0], [2]]


def test_max_batch_must_be_positive():
    with pytest.raises(ValueError):
        GroupCommit(lambda items: None, max_batch=0)


def test_a_store_out_of_reach_fails_the_batch_at_once():
    store = Store(refuse=frozenset({3}))
    group = GroupCommit(store.write, item_refused=lambda error: False)
    with behind_a_held_write(store, group, range(1, 6)) as (first, rest):
        first.result(5)
        for future in rest.values():
            with pytest.raises(ValueError, match=r"refused \[3\]"):
                future.result(5)
    assert store.batches == [[0], []], "no write item by item after the batch failed"


def test_a_write_interrupted_by_a_base_exception_leaves_the_next_one_to_lead():
    class Interrupted(BaseException):
        pass

    def write(items: list[int]) -> None:
        if items == [1]:
            raise Interrupted

    group = GroupCommit(write, wait=5)
    with pytest.raises(Interrupted):
        group.submit(1)
    group.submit(2)  # would wait for a leader that never comes, were leadership not handed on
    assert queued(group) == 0 and not group._leading
