from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ..base.db import Base


class UsedDpopProof(Base):
    """A DPoP proof's jti (scoped to its key, hashed), kept while its iat is acceptable."""

    __tablename__ = "used_dpop_proofs"

    replay_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
