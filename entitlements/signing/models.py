from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from ..base.db import Base


class SigningKey(Base):
    """Metadata of one signing key; the private half lives in the key store.

    A key is published from ``created_at``, signs from ``activates_at`` until the
    next key activates, and stays published until every token it signed has expired.
    ``revoked_at`` withdraws it at once (a compromised key).
    """

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    activates_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None]
