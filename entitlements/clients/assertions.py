"""Single use of private_key_jwt assertions: each ``jti`` once per client, kept until the
assertion expires, then pruned now and then with no job to run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..base.db import prune_expired
from .models import UsedAssertion


def first_use(session: Session, client_id: str, jti: str, expires_at: datetime,
              now: datetime) -> bool:
    """Record the assertion's use; False when the client used this ``jti`` before."""
    try:
        with session.begin_nested():
            session.add(UsedAssertion(client_id=client_id, jti=jti, expires_at=expires_at))
    except IntegrityError:
        return False
    prune_expired(session, UsedAssertion, now)
    return True
