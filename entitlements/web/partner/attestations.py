"""/attestations: a partner's backend, authenticated as its OAuth client, gets a nonce and
submits a person's attestation; the answer is the verified facts, or a problem naming the
reason. Each refusal is one ``attestation.refused`` audit event."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from ...attestations import service as attestations
from ..errors import audits_refusals
from ..services import services
from .auth import authenticated_client, partner_blueprint

blueprint = partner_blueprint("partner_attestations", __name__)


def _refusal(response: Response) -> dict[str, Any]:
    return {"message": (response.get_json(silent=True) or {}).get("detail")}


@blueprint.post("/attestations/nonce")
@audits_refusals("attestation.refused", _refusal, described=False)
def nonce() -> Response:
    client = authenticated_client("attestation")
    found = services()
    with found.db.transaction() as session:
        value, expires_in = attestations.issue_nonce(session, client.client_id,
                                                     found.clock.now())
    response = jsonify(nonce=value, expires_in=expires_in)
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.post("/attestations")
@audits_refusals("attestation.refused", _refusal, described=False)
def submit() -> Response:
    client = authenticated_client("attestation")
    form, found = request.form, services()
    ref = attestations.PersonRef(form.get("person_id"), form.get("idp_issuer"),
                                 form.get("idp_subject"))
    with found.db.transaction() as session:
        row = attestations.submit(
            session, client_id=client.client_id, org_id=client.organization_id, ref=ref,
            credential=form.get("credential", ""), form=form.get("format", "jwt"),
            audience=found.settings.issuer, now=found.clock.now(), verifiers=found.verifiers)
        body = {"attestation_id": row.id, "person_id": row.person_id,
                "nationalities": row.nationalities, "assurance_level": row.assurance_level,
                "verified_at": row.verified_at.isoformat(),
                "expires_at": row.expires_at.isoformat()}
    return jsonify(body)
