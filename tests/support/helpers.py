"""Small helpers for building requests and reading tokens in tests."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timedelta
from typing import Any

import jwt

from tests.support.factories import Partner

FORM = "application/x-www-form-urlencoded"


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def client_assertion(partner: Partner, audience: str, now: datetime, *, lifetime: int = 60,
                     **overrides: Any) -> str:
    claims = {"iss": partner.client_id, "sub": partner.client_id, "aud": audience,
              "iat": int(now.timestamp()),
              "exp": int((now + timedelta(seconds=lifetime)).timestamp()),
              "jti": uuid.uuid4().hex}
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, partner.private_key, algorithm="ES256", headers={"kid": partner.kid})


def assertion_form(assertion: str, **extra: str) -> dict[str, str]:
    return {
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
        **extra,
    }


def decode_with_jwks(token: str, jwks: dict, issuer: str, audience: str) -> dict:
    header = jwt.get_unverified_header(token)
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    return jwt.decode(token, jwt.PyJWK(key).key, algorithms=[key["alg"]], issuer=issuer,
                      audience=audience)


PROBLEM = "application/problem+json"


def problem_code(response: Any) -> str:
    """The code of an RFC 9457 problem answer (its ``type`` is ``urn:entitlements:problem:``
    followed by the code)."""
    assert response.mimetype == PROBLEM, response.data
    return response.get_json()["type"].removeprefix("urn:entitlements:problem:")


def audit_events(db: Any) -> int:
    """How many audit events of changes exist: not the announcements of new streams (the
    token ledger and the refusal log open streams of their own as they first write), nor
    the record of an admin's refused request (``admin.refused``), which changes nothing."""
    from sqlalchemy import func, select

    from entitlements.audit.models import AuditEvent
    from entitlements.audit.service import STREAM_OPENED

    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action.not_in((STREAM_OPENED,
                                                               "admin.refused"))))


def eventually(condition: Any, timeout: float = 10.0) -> bool:
    """Whether ``condition()`` comes true within ``timeout`` seconds: waiting for another
    thread's work (a poller's), never a measured lag."""
    import threading
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        threading.Event().wait(0.01)
    return False
