"""Sending the notice outbox: each due notice is signed (a JWS of ``typ``
``entitlements-notice+jwt`` its recipient checks against our JWKS) and posted as JSON,
outside any transaction; a failure is retried later with growing waits. A notice is leased
before it is sent, so two processes never send it at once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests

from ..base.clock import Clock
from ..base.db import Database
from ..notices import service as notices
from ..notices.models import Notice
from ..signing.documents import NOTICE_TYP, sign_document
from ..signing.keyring import KeyRingCache

log = logging.getLogger("entitlements.notices")
TIMEOUT = 5.0
#: How long a notice being sent is kept from other senders.
LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class Delivery:
    notice: int
    delivered: bool
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"notice": self.notice, "delivered": self.delivered, "error": self.error}


class NoticeSender:
    def __init__(self, db: Database, keys: KeyRingCache, clock: Clock, issuer: str, *,
                 post: Callable[..., Any] = requests.post) -> None:
        self.db, self.keys, self.clock, self.issuer, self._post = db, keys, clock, issuer, post
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notices")
        self._kicked = threading.Event()

    def kick(self) -> Future[list[Delivery]] | None:
        """Deliver what is due soon, in the background (runs already asked for coalesce)."""
        if self._kicked.is_set():
            return None
        self._kicked.set()
        return self._pool.submit(self._run)

    def _run(self) -> list[Delivery]:
        self._kicked.clear()
        try:
            return self.deliver_due()
        except Exception:
            log.exception("delivering notices failed")
            return []

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def deliver_due(self, limit: int = 20) -> list[Delivery]:
        """Send what is due now; what became of each."""
        return [self._send(notice) for notice in self._lease(limit)]

    def _lease(self, limit: int) -> list[dict[str, Any]]:
        now = self.clock.now()
        with self.db.transaction() as session:
            due = notices.due(session, now, limit)
            for notice in due:
                notice.next_attempt_at = now + LEASE
            return [{"id": n.id, "kind": n.kind, "subject_id": n.subject_id,
                     "recipient": n.recipient, "payload": n.payload,
                     "created_at": n.created_at.isoformat()} for n in due]

    def _send(self, notice: dict[str, Any]) -> Delivery:
        body = {"notice": notice["id"], "kind": notice["kind"],
                "subject_id": notice["subject_id"], "created_at": notice["created_at"],
                "payload": notice["payload"]}
        error = None
        try:
            body["jws"] = sign_document(self.keys.get(), self.clock.now(), issuer=self.issuer,
                                        typ=NOTICE_TYP, claims=body)
            response = self._post(notice["recipient"], json=body, timeout=TIMEOUT,
                                  allow_redirects=False)
            if not 200 <= response.status_code < 300:
                error = f"the recipient answered {response.status_code}"
        except (requests.RequestException, LookupError) as failure:
            error = f"{type(failure).__name__}"
        self._record(notice["id"], error)
        if error:
            log.warning("notice %s (%s) not delivered: %s", notice["id"], notice["kind"], error)
        return Delivery(notice["id"], error is None, error)

    def _record(self, notice_id: int, error: str | None) -> None:
        now = self.clock.now()
        with self.db.transaction() as session:
            notice = session.get(Notice, notice_id)
            if notice is None:
                return
            if error is None:
                notices.delivered(notice, now)
            else:
                notices.failed(notice, now, error)
