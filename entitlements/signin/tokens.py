"""The digest kept of each random value the flow hands out (codes, cookies, refresh
tokens; made by ``base.secrets.generate_secret``)."""

from __future__ import annotations

import hashlib


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
