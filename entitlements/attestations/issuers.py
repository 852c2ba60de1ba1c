"""Register attestation issuers, change their limits, suspend and reinstate them.

Suspending an issuer makes its verifications stop counting at once: verification
reads the issuer's status every time it is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..audit.targets import Target
from ..base import transitions
from ..base.actor import Actor
from ..base.countries import is_country
from ..base.db import fetch
from ..base.errors import Conflict, InvalidInput, NotFound
from ..base.ids import new_id
from ..base.pages import Page, paginate
from ..base.remote_jwks import validate_key_source
from ..kernel.assurance import ASSURANCE_LEVELS
from .models import FORMATS, AttestationIssuer, VerifiedAttestation


def register(session: Session, actor: Actor, *, issuer: str, name: str,
             jwks: dict[str, Any] | None = None, jwks_uri: str | None = None,
             formats: Sequence[str], nationalities: Sequence[str],
             assurance_levels: Sequence[str], max_age_days: int) -> AttestationIssuer:
    if session.scalar(select(AttestationIssuer.id).where(AttestationIssuer.issuer == issuer)):
        raise Conflict(f"issuer {issuer!r} is already registered")
    validate_key_source(jwks, jwks_uri, "an issuer")
    _validate_limits(formats, nationalities, assurance_levels, max_age_days)
    row = AttestationIssuer(
        id=new_id("ati"), issuer=issuer, name=name, jwks=jwks, jwks_uri=jwks_uri,
        formats=sorted(set(formats)), nationalities=sorted(set(nationalities)),
        assurance_levels=sorted(set(assurance_levels)), max_age_days=max_age_days,
        status="active", created_at=actor.now, updated_at=actor.now)
    session.add(row)
    audit.record(session, actor, "issuer.registered",
                 target=Target("attestation_issuer", row.id), details=_limits(row))
    return row


def get(session: Session, issuer_id: str, *, lock: bool = False) -> AttestationIssuer:
    """With ``lock``, locked for a transition (``base.db.locked``)."""
    row = fetch(session, AttestationIssuer, issuer_id, lock=lock)
    if row is None:
        raise NotFound(f"no attestation issuer with id {issuer_id!r}")
    return row


def find_by_issuer(session: Session, issuer: str) -> AttestationIssuer | None:
    return session.scalar(select(AttestationIssuer).where(AttestationIssuer.issuer == issuer))


def list_all(session: Session, *, cursor: str | None = None, limit: int = 100
             ) -> Page[AttestationIssuer]:
    return paginate(session, select(AttestationIssuer),
                    (AttestationIssuer.created_at, AttestationIssuer.id), cursor=cursor,
                    limit=limit)


def set_status(session: Session, actor: Actor, issuer_id: str, status: str, reason: str
               ) -> AttestationIssuer:
    """Suspend or reinstate an issuer: its verifications stop (or start again) counting at
    once. (``operations`` also revokes the live tokens of the persons it vouched for.)"""
    issuer = get(session, issuer_id, lock=True)
    verb = transitions.set_status(actor, issuer, status, label="issuer")
    audit.record(session, actor, f"issuer.{verb}",
                 target=Target("attestation_issuer", issuer.id), reason=reason)
    return issuer


def vouched_for(issuer_id: str, now: datetime) -> Select:
    """The persons an issuer has current verifications of."""
    return select(VerifiedAttestation.person_id).where(
        VerifiedAttestation.issuer_id == issuer_id, VerifiedAttestation.expires_at > now)


def _validate_limits(formats: Sequence[str], nationalities: Sequence[str],
                     levels: Sequence[str], max_age_days: int) -> None:
    if not formats or set(formats) - set(FORMATS):
        raise InvalidInput(f"formats must be some of: {', '.join(FORMATS)}")
    if not nationalities or not all(is_country(n) for n in nationalities):
        raise InvalidInput("nationalities must be ISO 3166-1 alpha-2 codes, such as US")
    if not levels or set(levels) - set(ASSURANCE_LEVELS):
        raise InvalidInput(f"assurance levels must be some of: {', '.join(ASSURANCE_LEVELS)}")
    if not 1 <= max_age_days <= 3650:
        raise InvalidInput("max_age_days must be 1 to 3650")


def _limits(row: AttestationIssuer) -> dict[str, Any]:
    return {"issuer": row.issuer, "formats": row.formats, "nationalities": row.nationalities,
            "assurance_levels": row.assurance_levels, "max_age_days": row.max_age_days,
            "jwks_uri": row.jwks_uri}
