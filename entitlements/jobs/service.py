"""Jobs: created in the request that asks for them, then run by a ``JobRunner`` that records
their progress in short transactions of their own."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..base.db import Database, fetch
from ..base.errors import NotFound
from ..base.ids import new_id
from ..base.pages import Page, paginate
from .models import Job

#: A running job silent for longer than this is shown as interrupted (its process died; a
#: queued one may just be waiting behind long ones).
STALE_AFTER = timedelta(minutes=2)


def create(session: Session, *, kind: str, requested_by: str, params: dict[str, Any],
           now: datetime) -> Job:
    job = Job(id=new_id("job"), kind=kind, requested_by=requested_by, params=params,
              state="queued", done=0, created_at=now, updated_at=now)
    session.add(job)
    session.flush()
    return job


def get(session: Session, job_id: str) -> Job:
    job = fetch(session, Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id!r}")
    return job


def list_jobs(session: Session, *, kind: str | None = None, cursor: str | None = None,
              limit: int = 100) -> Page[Job]:
    query = select(Job) if kind is None else select(Job).where(Job.kind == kind)
    return paginate(session, query, (Job.created_at, Job.id), cursor=cursor, limit=limit,
                    descending=True)


def state(job: Job, now: datetime) -> str:
    """queued, running, done, failed, or interrupted (running, but silent too long)."""
    if job.state == "running" and now - job.updated_at > STALE_AFTER:
        return "interrupted"
    return job.state


class Progress:
    """A job's ``Tracker``: how far it got is written at most every ``every`` seconds of
    the injected clock, in transactions of their own."""

    def __init__(self, db: Database, job_id: str, now: Any, every: float = 0.5) -> None:
        self._db, self._id, self._now, self._every = db, job_id, now, timedelta(seconds=every)
        self.done, self.total = 0, None
        self._written: datetime | None = None

    @property
    def job_id(self) -> str:
        return self._id

    def start(self) -> None:
        self._write(state="running")

    def expect(self, total: int) -> None:
        self.total = total
        self._write()

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = self._now()
        if self._written is None or now - self._written >= self._every:
            self._write()

    def finish(self, result: dict[str, Any]) -> None:
        self._write(state="done", result=result, finished_at=self._now())

    def fail(self, error: str) -> None:
        self._write(state="failed", error=error[:500], finished_at=self._now())

    def _write(self, **values: Any) -> None:
        now = self._now()
        with self._db.transaction() as session:
            job = session.get(Job, self._id)
            if job is None:
                return
            job.done, job.updated_at = self.done, now
            if self.total is not None:
                job.total = self.total
            for name, value in values.items():
                setattr(job, name, value)
        self._written = now
