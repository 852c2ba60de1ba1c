"""What a serving process does on its own, once a minute: the audit checkpoint when one is
due (and its copies outside the database, tried again until made), and the notices due for
(re)delivery. Started explicitly by ``entitlements serve``
(``create_asgi_app``), never on import or construction; tests call ``tick`` with their
clock."""

from __future__ import annotations

import logging
import threading

from .reports import checkpoints
from .web.services import Services

log = logging.getLogger("entitlements.ticker")
EVERY = 60.0


class Ticker:
    def __init__(self, services: Services, every: float = EVERY) -> None:
        self._services, self._every = services, every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> None:
        found = self._services
        settings = found.settings
        checkpoints.make(found.db, found.keys.get(), issuer=settings.issuer,
                         now=found.clock.now(), interval=settings.checkpoint_interval)
        checkpoints.anchor(found.db, found.anchors)
        found.notices.deliver_due()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ticker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self.tick()
            except Exception:
                log.exception("the periodic work failed; retrying in %.0f s", self._every)


