"""Running jobs in the background of a web process: a bounded pool of threads (at most
``workers`` at once, ``queue`` waiting), each job's work given a ``Progress``. A job that
raises is recorded as failed, with a message safe to show."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..base.clock import Clock
from ..base.db import Database
from ..base.errors import EntitlementsError, TemporarilyUnavailable
from .service import Progress

log = logging.getLogger("entitlements.jobs")
Work = Callable[[Progress], dict[str, Any]]


class JobRunner:
    def __init__(self, db: Database, clock: Clock, *, workers: int = 2, queue: int = 16) -> None:
        self._db, self._clock = db, clock
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")
        self._slots = threading.BoundedSemaphore(workers + queue)
        self._futures: dict[str, Future[None]] = {}

    def submit(self, job_id: str, work: Work) -> None:
        """Run ``work`` for the (committed) job ``job_id``; 503 when too many wait (the job
        is then recorded as failed, not left waiting for nothing)."""
        if not self._slots.acquire(blocking=False):
            Progress(self._db, job_id, self._clock.now).fail(
                "the service had too much background work waiting to run it; ask again")
            raise TemporarilyUnavailable("Too much background work is waiting; retry.")
        future = self._pool.submit(run, self._db, self._clock, job_id, work)
        future.add_done_callback(lambda _: self._slots.release())
        self._futures[job_id] = future
        future.add_done_callback(lambda _: self._futures.pop(job_id, None))

    def wait(self, job_id: str, timeout: float | None = None) -> None:
        """Until the job has ended in this process (tests, the CLI)."""
        future = self._futures.get(job_id)
        if future is not None:
            future.result(timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def run(db: Database, clock: Clock, job_id: str, work: Work) -> None:
    """Run ``work`` now, in this thread, recording its progress and end."""
    try:
        run_here(db, clock, job_id, work)
    except EntitlementsError:
        pass
    except Exception:
        log.exception("job %s failed", job_id)


def run_here(db: Database, clock: Clock, job_id: str, work: Work) -> dict[str, Any]:
    """Run ``work`` in this thread (the CLI's way), recording its progress and end: its
    result, or its error recorded as the job's and raised again."""
    progress = Progress(db, job_id, clock.now)
    progress.start()
    try:
        result = work(progress)
    except EntitlementsError as error:
        progress.fail(error.message)
        raise
    except Exception as error:
        progress.fail(f"the job failed unexpectedly ({type(error).__name__})")
        raise
    progress.finish(result)
    return result
