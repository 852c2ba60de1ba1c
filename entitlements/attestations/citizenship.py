"""A person's citizenship as decisions see it: per nationality, the strongest current
verification (unexpired, from an active issuer), and the issuers behind it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..kernel.assurance import rank
from ..kernel.policy import Citizenship
from .models import AttestationIssuer, VerifiedAttestation

#: A person token lives at least this long: verifications closer to expiry are left out.
MIN_TOKEN_LIFETIME = timedelta(seconds=10)


@dataclass(frozen=True)
class CitizenshipSummary:
    """What a person's token and decisions rest on: the nationalities held, and the
    attestation issuers that vouched for them (which the token ledger checks are still
    active; tokens never name them)."""

    held: tuple[Citizenship, ...] = ()
    vouched_by: tuple[str, ...] = ()
    #: The verifications (``VerifiedAttestation`` ids) chosen for ``held``.
    attestations: tuple[str, ...] = ()

    @property
    def not_after(self) -> datetime | None:
        """No token outlives the verifications its citizenship came from."""
        return min((c.expires_at for c in self.held), default=None)


def current_facts(session: Session, person_id: str, now: datetime) -> list[VerifiedAttestation]:
    """Unexpired verifications from issuers that are still active: expiry needs no job."""
    return list(session.scalars(
        select(VerifiedAttestation)
        .join(AttestationIssuer, AttestationIssuer.id == VerifiedAttestation.issuer_id)
        .where(VerifiedAttestation.person_id == person_id, VerifiedAttestation.expires_at > now,
               AttestationIssuer.status == "active")))


def citizenship_summary(session: Session, person_id: str, now: datetime,
                        min_remaining: timedelta) -> CitizenshipSummary:
    """Per nationality, the strongest current verification (then the longest-lived one).
    Verifications with less than ``min_remaining`` left are left out: a token capped by
    them would be useless."""
    return summarize(current_facts(session, person_id, now + min_remaining))


def summaries_by_person(session: Session, now: datetime) -> dict[str, CitizenshipSummary]:
    """Every person's citizenship summary at ``now``, in one query (dry runs, re-imposition)."""
    rows = session.scalars(
        select(VerifiedAttestation)
        .join(AttestationIssuer, AttestationIssuer.id == VerifiedAttestation.issuer_id)
        .where(VerifiedAttestation.expires_at > now, AttestationIssuer.status == "active"))
    grouped: dict[str, list[VerifiedAttestation]] = {}
    for row in rows:
        grouped.setdefault(row.person_id, []).append(row)
    return {person: summarize(facts) for person, facts in grouped.items()}


def summarize(rows: Iterable[VerifiedAttestation]) -> CitizenshipSummary:
    best: dict[str, tuple[Citizenship, VerifiedAttestation]] = {}
    for row in rows:
        for nationality in row.nationalities:
            candidate = Citizenship(nationality, rank(row.assurance_level), row.expires_at)
            held = best.get(nationality)
            if held is None or (candidate.rank, candidate.expires_at) > (held[0].rank,
                                                                          held[0].expires_at):
                best[nationality] = (candidate, row)
    chosen = [best[n] for n in sorted(best)]
    return CitizenshipSummary(tuple(c for c, _ in chosen),
                              tuple(sorted({row.issuer_id for _, row in chosen})),
                              tuple(sorted({row.id for _, row in chosen})))
