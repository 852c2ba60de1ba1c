"""Server nonces (RFC 9449 8): stateless, so every instance that shares the secret accepts
every other's. A nonce names its time slot and carries an HMAC of it; the current and the
previous slot are accepted, so a nonce lives between one and two slot lengths."""

from __future__ import annotations

import hashlib
import hmac

from ..kernel import base64url


class Nonces:
    def __init__(self, secret: str, lifetime: int) -> None:
        self._key = hashlib.sha256(b"entitlements dpop nonce\0" + secret.encode()).digest()
        self.lifetime = lifetime

    def current(self, now: float) -> str:
        return self._for(int(now // self.lifetime))

    def valid(self, nonce: str | None, now: float) -> bool:
        if not nonce or len(nonce) > 64:
            return False
        slot = int(now // self.lifetime)
        return any(hmac.compare_digest(nonce, self._for(s)) for s in (slot, slot - 1))

    def _for(self, slot: int) -> str:
        mac = hmac.new(self._key, str(slot).encode(), hashlib.sha256).digest()[:18]
        return f"{slot:x}.{base64url.encode(mac)}"
