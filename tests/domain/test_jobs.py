"""Jobs: a bounded pool runs them, a full one refuses more (and says so on the job), and a
job is interrupted only when it was running and fell silent."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from entitlements.base.errors import TemporarilyUnavailable
from entitlements.jobs import service as jobs
from entitlements.jobs.models import Job
from entitlements.jobs.runner import JobRunner


def new_job(db, clock) -> str:
    with db.transaction() as session:
        return jobs.create(session, kind="test", requested_by="admin:ada", params={},
                           now=clock.now()).id


def job(db, job_id: str) -> Job:
    with db.sessions() as session:
        return session.get(Job, job_id)


def test_a_full_pool_refuses_and_the_job_says_why(db, clock):
    runner = JobRunner(db, clock, workers=1, queue=0)
    release = threading.Event()
    first, second = new_job(db, clock), new_job(db, clock)
    runner.submit(first, lambda progress: release.wait(30) and {"ok": True})
    try:
        with pytest.raises(TemporarilyUnavailable):
            runner.submit(second, lambda progress: {"never": True})
        refused = job(db, second)
        assert (refused.state, refused.result) == ("failed", None)
        assert "too much background work" in refused.error
    finally:
        release.set()
        runner.wait(first, timeout=30)
        runner.close()
    assert (job(db, first).state, job(db, first).result) == ("done", {"ok": True})


def test_only_a_silent_running_job_reads_as_interrupted(db, clock):
    queued = job(db, new_job(db, clock))
    later = clock.now() + jobs.STALE_AFTER + timedelta(seconds=1)
    assert jobs.state(queued, later) == "queued", "it may be waiting behind long ones"
    queued.state = "running"
    assert jobs.state(queued, clock.now()) == "running"
    assert jobs.state(queued, later) == "interrupted"
