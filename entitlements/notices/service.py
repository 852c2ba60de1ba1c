"""The notice outbox: enqueue in the caller's transaction, then find what is due and record
each delivery attempt. Sending (signing and posting) is ``operations.notices``'s."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..base.pages import Page, paginate
from .models import Notice

MAX_ATTEMPTS = 10
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=1)


def enqueue(session: Session, *, kind: str, subject_id: str, recipient: str,
            payload: dict[str, Any], now: datetime) -> Notice | None:
    """A notice for ``recipient``, due now; None (nothing to send) when no recipient is
    configured."""
    if not recipient:
        return None
    notice = Notice(kind=kind, subject_id=subject_id, recipient=recipient, payload=payload,
                    created_at=now, attempts=0, next_attempt_at=now)
    session.add(notice)
    session.flush()
    return notice


def due(session: Session, now: datetime, limit: int = 20) -> list[Notice]:
    return list(session.scalars(
        select(Notice).where(Notice.delivered_at.is_(None), Notice.next_attempt_at <= now)
        .order_by(Notice.next_attempt_at, Notice.id).limit(limit).with_for_update(
            skip_locked=True)))


def undelivered(session: Session) -> list[Notice]:
    return list(session.scalars(select(Notice).where(Notice.delivered_at.is_(None))
                                .order_by(Notice.id).limit(100)))


def list_notices(session: Session, *, cursor: str | None = None, limit: int = 100
                 ) -> Page[Notice]:
    """Newest first."""
    return paginate(session, select(Notice), (Notice.id,), cursor=cursor, limit=limit,
                    descending=True)


def delivered(notice: Notice, now: datetime) -> None:
    notice.attempts += 1
    notice.delivered_at, notice.next_attempt_at, notice.last_error = now, None, None


def failed(notice: Notice, now: datetime, error: str) -> None:
    """Retry later, waiting twice as long each time; give up after ``MAX_ATTEMPTS``."""
    notice.attempts += 1
    notice.last_error = error[:200]
    wait = min(FIRST_RETRY * 2 ** (notice.attempts - 1), LONGEST_WAIT)
    notice.next_attempt_at = now + wait if notice.attempts < MAX_ATTEMPTS else None
