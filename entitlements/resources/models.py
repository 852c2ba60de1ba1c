from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ..base.db import Base


class ResourceServer(Base):
    """A model gateway, named by the absolute URI a client passes as ``resource``."""

    __tablename__ = "resource_servers"

    identifier: Mapped[str] = mapped_column(String(500), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
