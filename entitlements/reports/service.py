"""Exported reports as records: asked for (a job and a row), written by the job, listed and
read back with their signed manifests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..audit.targets import Target
from ..base.actor import Actor
from ..base.clock import Clock, epoch
from ..base.db import Database
from ..base.errors import Conflict, InvalidInput, NotFound
from ..base.ids import new_id
from ..base.pages import Page, paginate
from ..base.progress import Tracker
from ..jobs import service as jobs
from ..signing.keyring import KeyRingCache
from ..signing.models import SigningKey
from . import export
from .models import ReportExport

#: The longest interval one report covers.
MAX_INTERVAL = timedelta(days=366)


def request(session: Session, actor: Actor, starts_at: datetime, ends_at: datetime
            ) -> ReportExport:
    """A report of [``starts_at``, ``ends_at``), with the job that will write it."""
    if ends_at <= starts_at:
        raise InvalidInput("a report's interval must end after it starts", code="bad_interval")
    if ends_at - starts_at > MAX_INTERVAL:
        raise InvalidInput(f"a report covers at most {MAX_INTERVAL.days} days",
                           code="bad_interval")
    if ends_at > actor.now:
        raise InvalidInput("a report's interval must be over (it would be signed as every "
                           "event of the interval while events are still to come): end it "
                           "now or earlier", code="interval_not_over")
    report_id = new_id("rpt")
    job = jobs.create(session, kind="report_export", requested_by=actor.name, now=actor.now,
                      params={"report": report_id, "from": starts_at.isoformat(),
                              "to": ends_at.isoformat()})
    row = ReportExport(id=report_id, starts_at=starts_at, ends_at=ends_at,
                       requested_by=actor.name, created_at=actor.now, job_id=job.id,
                       file_name=f"{report_id}.jsonl")
    session.add(row)
    session.flush()
    audit.record(session, actor, "report.requested", target=Target("report", report_id),
                 details={"from": starts_at.isoformat(), "to": ends_at.isoformat()})
    return row


@dataclass(frozen=True)
class Writer:
    """What writing a report needs: the database, the signing keys, where files go."""

    db: Database
    keys: KeyRingCache
    clock: Clock
    issuer: str
    directory: Path

    def write(self, report_id: str, tracker: Tracker) -> dict[str, Any]:
        """Write the report's files, and record their hash and manifest."""
        with self.db.sessions() as session:
            row = get(session, report_id)
            starts_at, ends_at = row.starts_at, row.ends_at
        now = self.clock.now()
        done = export.export(self.db, self.keys.get(), issuer=self.issuer, report_id=report_id,
                             starts_at=starts_at, ends_at=ends_at, directory=self.directory,
                             now=now, tracker=tracker)
        with self.db.transaction() as session:
            row = get(session, report_id)
            row.sha256, row.events = done.manifest["file"]["sha256"], done.manifest["events"]
            row.manifest = done.jws
            audit.record(session, Actor("system", now), "report.exported",
                         target=Target("report", report_id),
                         details={"events": row.events, "sha256": row.sha256})
        return {"report": report_id, "events": done.manifest["events"],
                "sha256": done.manifest["file"]["sha256"]}


def get(session: Session, report_id: str) -> ReportExport:
    row = session.get(ReportExport, report_id)
    if row is None:
        raise NotFound(f"no report {report_id!r}")
    return row


def list_reports(session: Session, *, cursor: str | None = None, limit: int = 100
                 ) -> Page[ReportExport]:
    return paginate(session, select(ReportExport), (ReportExport.created_at, ReportExport.id),
                    cursor=cursor, limit=limit, descending=True)


def files(row: ReportExport, directory: Path) -> tuple[Path, Path]:
    """A written report's events file and manifest (Conflict while it is being written)."""
    _written(row)
    events, manifest = export.paths(directory, row.id)
    if not events.is_file() or not manifest.is_file():
        raise NotFound(f"report {row.id}'s file is not in {directory} (written by another "
                       "instance, or removed)", code="report_file_missing")
    return events, manifest


def signing_jwks(session: Session, row: ReportExport) -> dict[str, Any]:
    """A JWKS of the one public key that signed the report's manifest, kept after the key
    left the published JWKS (rotated out, or revoked): what a checker saves beside the
    report, fetched from a source it trusts. A revoked key says when (``revoked_at``, a
    NumericDate): nothing it signed after then is believed."""
    kid = jwt.get_unverified_header(_written(row)).get("kid")
    key = session.get(SigningKey, kid) if isinstance(kid, str) else None
    if key is None:
        raise NotFound(f"the key {kid!r} that signed report {row.id} is not known here")
    revoked = {"revoked_at": epoch(key.revoked_at)} if key.revoked_at else {}
    return {"keys": [{**key.public_jwk, **revoked}]}


def _written(row: ReportExport) -> str:
    """The report's manifest, once written (Conflict while its job writes it)."""
    if row.manifest is None:
        raise Conflict(f"report {row.id} is not written yet; follow its job {row.job_id}",
                       code="report_not_ready")
    return row.manifest


def manifest_claims(row: ReportExport) -> dict[str, Any] | None:
    """The manifest's claims, for showing (its signature is checked by ``verify``)."""
    if row.manifest is None:
        return None
    return jwt.decode(row.manifest, options={"verify_signature": False})
