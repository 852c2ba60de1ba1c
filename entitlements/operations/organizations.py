"""Organization lifecycle and trust moves, and the token revocations they cause."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from marshmallow import ValidationError
from sqlalchemy.orm import Session

from ..base.actor import Actor
from ..base.db import Database
from ..base.errors import InvalidInput
from ..base.progress import Tracker
from ..organizations import service as organizations
from ..organizations.models import Organization, OrganizationStatus
from ..organizations.schemas import OrganizationCreateSchema
from ..tokens import revocation

#: Moves after which an organization's live tokens must stop counting.
ENDS_TOKENS = frozenset({OrganizationStatus.SUSPENDED, OrganizationStatus.REVOKED})


def move(session: Session, actor: Actor, org_id: str, action: str, reason: str,
         evidence: dict[str, Any] | None = None, *, required: Collection[str] = ()
         ) -> Organization:
    """A lifecycle move (review, verify, suspend, reinstate, revoke); a suspension or a
    revocation also revokes the organization's live tokens (gateways validate offline)."""
    org = organizations.move(session, actor, org_id, action, reason, evidence,
                             required=required)
    if org.status in ENDS_TOKENS:
        revocation.revoke(session, actor, reason=f"organization {action}: {reason}",
                          quiet=True, organization_id=org.id)
    return org


def suspend(session: Session, actor: Actor, org_id: str, reason: str) -> Organization:
    return move(session, actor, org_id, "suspend", reason)


def lower_trust(session: Session, actor: Actor, org_id: str, level: str, reason: str
                ) -> Organization:
    """Lower trust (one admin) and revoke the live tokens, which claim the higher trust; the
    organization's clients then get tokens with the new level."""
    org = organizations.lower_trust(session, actor, org_id, level, reason)
    revocation.revoke(session, actor, reason=f"organization lower_trust: {reason}",
                      quiet=True, organization_id=org.id)
    return org


#: Organizations created per transaction by an import.
IMPORT_CHUNK = 200


def import_rows(lines: Iterable[str]) -> list[dict[str, Any]]:
    """JSON Lines of organizations (``{"name", "country", "onboard"}`` a line, blank lines
    skipped), every line checked before anything is written: InvalidInput naming the first
    line at fault."""
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(OrganizationCreateSchema().loads(line))
        except ValidationError as error:
            said = "; ".join(f"{field}: {' '.join(problems)}" for field, problems in
                             sorted(error.normalized_messages().items()))
            raise InvalidInput(f"line {number}: {said}") from None
        except (ValueError, RecursionError):  # RecursionError: a line nesting without end
            raise InvalidInput(f"line {number} is not a JSON object such as "
                               '{"name": "Acme Labs", "country": "US"}') from None
    if not rows:
        raise InvalidInput("the file holds no organization")
    return rows


def import_organizations(db: Database, actor: Actor, rows: list[dict[str, Any]],
                         tracker: Tracker) -> dict[str, Any]:
    """Apply for (or, with ``onboard``, onboard) each organization, ``IMPORT_CHUNK`` to a
    transaction, telling ``tracker`` as it goes. A name that exists already is skipped and
    said so: running an import twice creates nothing twice."""
    tracker.expect(len(rows))
    created, skipped = 0, []
    for start in range(0, len(rows), IMPORT_CHUNK):
        chunk = rows[start:start + IMPORT_CHUNK]
        with db.transaction() as session:
            for row in chunk:
                if organizations.find_by_name(session, row["name"].strip()) is not None:
                    skipped.append(row["name"])
                    continue
                make = organizations.create if row.get("onboard") else organizations.apply
                make(session, actor, row["name"], country=row.get("country"))
                created += 1
        tracker.advance(len(chunk))
    return {"created": created, "skipped": skipped[:100], "skipped_count": len(skipped)}
