"""Secrets we must hand to others later (an upstream provider's client secret): sealed
with a key kept beside the signing keys (``sealing.key``, 0600), never stored in clear,
never logged. Fernet: AES-128-CBC with HMAC-SHA256, from cryptography."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from .errors import ConfigError

KEY_FILE = "sealing.key"


class Sealer:
    def __init__(self, keys_dir: str | Path) -> None:
        self._path = Path(keys_dir) / KEY_FILE
        self._fernet: Fernet | None = None

    def seal(self, secret: str) -> str:
        return self._key().encrypt(secret.encode()).decode()

    def unseal(self, sealed: str) -> str:
        try:
            return self._key().decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise ConfigError(f"{self._path} does not open this secret; was the key "
                              "replaced?") from None

    def _key(self) -> Fernet:
        if self._fernet is None:
            self._fernet = Fernet(self._load_or_create())
        return self._fernet

    def _load_or_create(self) -> bytes:
        self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            if self._path.stat().st_mode & 0o077:
                raise ConfigError(f"{self._path} may be read by other users; "
                                  f"chmod 600 it") from None
            return self._path.read_bytes().strip()
        key = Fernet.generate_key()
        with os.fdopen(fd, "wb") as file:
            file.write(key)
        return key
