"""The service's log lines: plain text, or one JSON object per line with
``ENTITLEMENTS_LOG_FORMAT=json`` (python-json-logger), each with the request id of the
request it belongs to. What is logged never holds a token, a secret, a personal datum or an
SQL parameter: the messages name operations and error codes, and the access log names the
method, the path (never the query), the status and the time taken."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from pythonjsonlogger.json import JsonFormatter

ROOT = "entitlements"
ACCESS = "entitlements.access"
TEXT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record: the current request's, or ``-``."""

    def __init__(self, current: Callable[[], str | None]) -> None:
        super().__init__()
        self._current = current

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = self._current() or "-"
        return True


class _Stderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a line is written."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        """The stream is always the current stderr."""


def configure(level: str, fmt: str, current_request_id: Callable[[], str | None]) -> None:
    """One handler on stderr for the ``entitlements`` loggers (replacing an earlier one);
    they do not propagate, so a server's own root handler does not print them twice."""
    handler = _Stderr()
    handler.setFormatter(JsonFormatter(JSON_FIELDS, rename_fields={
        "asctime": "time", "levelname": "level", "name": "logger"}) if fmt == "json"
        else logging.Formatter(TEXT))
    handler.addFilter(RequestIdFilter(current_request_id))
    logger = logging.getLogger(ROOT)
    for old in [h for h in logger.handlers if getattr(h, "entitlements", False)]:
        logger.removeHandler(old)
    handler.entitlements = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
