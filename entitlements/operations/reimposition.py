"""Re-imposition: activate a prepared version now and revoke every live token it no longer
allows, as one audited event with its effects (the break-glass kill switch does the same under
its own event)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..audit import targets
from ..base.actor import Actor
from ..kernel.claims import tiers_from_scope
from ..kernel.policy import Policy, decide
from ..policy import service
from ..policy.approvals import Approval
from ..policy.document import compile_policy
from ..policy.impact import Subjects
from ..tokens.models import IssuedToken
from ..tokens.revocation import live_tokens

REVOKE_CHUNK = 500


def reimpose(session: Session, actor: Actor, version: int, *, reason: str,
             on_pending: str | None = None, approval: Approval | None = None
             ) -> dict[str, Any]:
    """Activate ``version`` now and revoke every live token it no longer allows; one audit
    event records the activation and its effects."""
    effects = activate_revoking(session, actor, version, reason=reason, kind="reimpose",
                                on_pending=on_pending, approval=approval)
    audit.record(session, actor, "policy.reimposed", target=targets.policy_version(version),
                 reason=reason, details=effects)
    return effects


def activate_revoking(session: Session, actor: Actor, version: int, *, reason: str, kind: str,
                      on_pending: str | None, approval: Approval | None = None
                      ) -> dict[str, Any]:
    """Activate ``version`` now (unaudited: the caller records one event) and revoke the
    live tokens it no longer allows; what happened."""
    service.lock_policy(session)
    before = service.active_version(session, actor.now)
    later = [r.id for r in service.pending_after(session, actor.now)]
    activation = service.activate(session, actor, version, reason=reason, kind=kind,
                                  audited=False, on_pending=on_pending, approval=approval)
    effects: dict[str, Any] = {"before": before, "after": version,
                               "activation": activation.id}
    if later:
        effects["pending"] = {"decision": on_pending, "activations": later}
    if approval:
        effects["approval"] = approval.details()
    policy = compile_policy(version, service.get_version(session, version).document)
    effects.update(_revoke_disallowed(session, policy, actor.now))
    return effects


def _revoke_disallowed(session: Session, policy: Policy, now: datetime) -> dict[str, Any]:
    subjects = Subjects(session, now)
    tokens = session.execute(select(
        IssuedToken.jti, IssuedToken.organization_id, IssuedToken.subject, IssuedToken.scope,
        IssuedToken.client_id).where(*live_tokens(now))).all()
    doomed: list[str] = []
    reasons: Counter[str] = Counter()
    for jti, org_id, subject_id, scope, client_id in tokens:
        subject = (subjects.organization(org_id) if subject_id == client_id
                   else subjects.person(subject_id, org_id))
        denied = (decide(policy, subject, tiers_from_scope(scope), now).denied
                  if subject is not None else {"*": "organization_not_verified"})
        if denied:
            doomed.append(jti)
            reasons.update(denied.values())
    for start in range(0, len(doomed), REVOKE_CHUNK):
        session.execute(update(IssuedToken)
                        .where(IssuedToken.jti.in_(doomed[start:start + REVOKE_CHUNK]))
                        .values(revoked_at=now).execution_options(synchronize_session=False))
    return {"checked": len(tokens), "revoked": len(doomed), "reasons": dict(reasons),
            "jtis": doomed[:100]}
