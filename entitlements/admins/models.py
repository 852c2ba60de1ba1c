from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ..base.db import Base


class AdminKey(Base):
    """An admin's API key, stored only as its SHA-256 digest; the name is the actor."""

    __tablename__ = "admin_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
