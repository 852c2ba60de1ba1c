"""Whoever notices are posted to (admins' alerts, malicious-activity reports): a small HTTP
server on loopback that keeps every JSON body posted to it and answers ``status``."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Recipient:
    def __init__(self, port: int = 0, path: str = "/hook") -> None:
        #: Each post: its ``path``, content ``type`` and JSON ``body``.
        self.received: list[dict[str, Any]] = []
        self.status = 200
        recipient = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                recipient.received.append({"path": self.path,
                                           "type": self.headers.get("Content-Type"),
                                           "body": json.loads(self.rfile.read(length))})
                self.send_response(recipient.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{path}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Recipient:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
