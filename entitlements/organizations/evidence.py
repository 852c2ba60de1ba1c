"""Evidence about an organization: domain control, its LEI record, a signed agreement.

Each check is recorded (verified or failed, with what was compared) and audited.
A registry or DNS outage raises a retryable error and records nothing.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..audit import targets
from ..base.actor import Actor
from ..base.countries import is_country
from ..base.errors import Conflict, InvalidInput, NotFound
from ..base.ids import new_id
from ..base.pages import Page, paginate
from ..kernel.assurance import ASSURANCE_LEVELS
from . import domains
from .lei import GleifRegistry, LeiRecord
from .models import Evidence, EvidenceKind
from .service import get

VERIFIED, FAILED, PENDING = "verified", "failed", "pending"


def start_domain_challenge(session: Session, actor: Actor, org_id: str, domain: str
                           ) -> Evidence:
    """A fresh challenge for the organization to publish as a TXT record."""
    org = get(session, org_id)
    name = domains.normalize_domain(domain)
    challenge = domains.new_challenge()
    evidence = _add(session, actor, org.id, EvidenceKind.DOMAIN, name, PENDING, {
        "record": domains.record_name(name), "value": domains.expected_value(challenge)})
    evidence.challenge = challenge
    audit.record(session, actor, "organization.domain_challenged",
                 target=targets.organization(org.id),
                 details={"evidence": evidence.id, "domain": name})
    return evidence


def check_domain(session: Session, actor: Actor, evidence_id: str,
                 resolver: domains.TxtResolver) -> Evidence:
    evidence = _get(session, evidence_id)
    if evidence.kind != EvidenceKind.DOMAIN or not evidence.challenge:
        raise Conflict(f"evidence {evidence_id} is not a domain challenge")
    published = domains.check_challenge(resolver, evidence.value, evidence.challenge)
    details = {**evidence.details, "found": published}
    return _checked(session, actor, evidence, VERIFIED if published else FAILED, details)


def check_lei(session: Session, actor: Actor, org_id: str, lei: str, registry: GleifRegistry
              ) -> Evidence:
    """Look the LEI up and compare legal name, country and status with the application."""
    org = get(session, org_id)
    record = registry.lookup(lei)
    mismatches = lei_mismatches(record, org.name, org.country)
    details: dict[str, Any] = {"legal_name": record.legal_name, "country": record.country,
                               "entity_status": record.entity_status,
                               "registration_status": record.registration_status,
                               "mismatches": mismatches}
    evidence = _add(session, actor, org.id, EvidenceKind.LEI, record.lei, PENDING, details)
    return _checked(session, actor, evidence, FAILED if mismatches else VERIFIED, details)


def lei_mismatches(record: LeiRecord, name: str, country: str | None) -> list[str]:
    mismatches = []
    if _comparable(record.legal_name) != _comparable(name):
        mismatches.append("legal_name")
    if country is None or record.country != country:
        mismatches.append("country")
    if not record.is_current:
        mismatches.append("registration_status")
    return mismatches


def record_agreement(session: Session, actor: Actor, org_id: str, reference: str) -> Evidence:
    """An admin attests the signed partner agreement, by its reference."""
    org = get(session, org_id)
    reference = reference.strip()
    if not 1 <= len(reference) <= 300:
        raise InvalidInput("an agreement reference is 1 to 300 characters")
    evidence = _add(session, actor, org.id, EvidenceKind.AGREEMENT, reference, PENDING, {})
    return _checked(session, actor, evidence, VERIFIED, {})


def record_citizenship(session: Session, actor: Actor, org_id: str, reference: str, *,
                       nationalities: list[str], level: str, expires_at: datetime) -> Evidence:
    """An admin records the organization's signed attestation that all its users are
    citizens of ``nationalities`` (what organization-level callers need for tiers whose
    rule says ``organization_subjects: attestation``)."""
    org = get(session, org_id)
    reference = reference.strip()
    if not 1 <= len(reference) <= 300:
        raise InvalidInput("an attestation reference is 1 to 300 characters")
    if not nationalities or not all(is_country(n) for n in nationalities):
        raise InvalidInput("nationalities must be ISO 3166-1 alpha-2 codes, such as US")
    if level not in ASSURANCE_LEVELS:
        raise InvalidInput(f"level must be one of {', '.join(ASSURANCE_LEVELS)}")
    if expires_at <= actor.now:
        raise InvalidInput("the attestation must expire in the future")
    details = {"nationalities": sorted(set(nationalities)), "level": level,
               "expires_at": expires_at.isoformat()}
    evidence = _add(session, actor, org.id, EvidenceKind.CITIZENSHIP, reference, PENDING, {})
    return _checked(session, actor, evidence, VERIFIED, details)


def list_evidence(session: Session, org_id: str, *, cursor: str | None = None,
                  limit: int = 100) -> Page[Evidence]:
    get(session, org_id)
    return paginate(session, select(Evidence).where(Evidence.organization_id == org_id),
                    (Evidence.created_at, Evidence.id), cursor=cursor, limit=limit)


def _add(session: Session, actor: Actor, org_id: str, kind: EvidenceKind, value: str,
         status: str, details: dict[str, Any]) -> Evidence:
    evidence = Evidence(id=new_id("evd"), organization_id=org_id, kind=kind, value=value,
                        status=status, details=details, created_at=actor.now)
    session.add(evidence)
    session.flush()
    return evidence


def _checked(session: Session, actor: Actor, evidence: Evidence, status: str,
             details: dict[str, Any]) -> Evidence:
    evidence.status, evidence.details = status, details
    evidence.checked_at, evidence.checked_by = actor.now, actor.name
    audit.record(session, actor, "organization.evidence_checked",
                 target=targets.organization(evidence.organization_id),
                 outcome=audit.SUCCESS if status == VERIFIED else audit.FAILURE,
                 reason=None if status == VERIFIED else f"{evidence.kind} check failed",
                 details={"evidence": evidence.id, "kind": evidence.kind,
                          "value": evidence.value, "status": status})
    return evidence


def _get(session: Session, evidence_id: str) -> Evidence:
    evidence = session.get(Evidence, evidence_id)
    if evidence is None:
        raise NotFound(f"no evidence with id {evidence_id!r}")
    return evidence


def _comparable(name: str) -> str:
    return re.sub(r"[\W_]+", " ", name).casefold().strip()
