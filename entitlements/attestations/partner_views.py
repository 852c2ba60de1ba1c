"""/attestations: a partner's backend, authenticated as its OAuth client, gets a nonce and
submits a person's attestation; the answer is the verified facts, or a reason code."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, current_app, jsonify, request

from ..audit import service as audit
from ..oauth.client_record import ClientRecord
from ..web.partner import partner_call
from . import service as attestations
from .verify import AttestationRefused

blueprint = Blueprint("partner_attestations", __name__)


@blueprint.post("/attestations/nonce")
def nonce() -> Response:
    return partner_call(_refusals_answered(_issue_nonce), "attestation")


@blueprint.post("/attestations")
def submit() -> Response:
    return partner_call(_refusals_answered(_submit), "attestation")


def _issue_nonce(client: ClientRecord) -> Response:
    with current_app.extensions["entitlements.db"].transaction() as session:
        value, expires_in = attestations.issue_nonce(session, client.client_id, _now())
    response = jsonify(nonce=value, expires_in=expires_in)
    response.headers["Cache-Control"] = "no-store"
    return response


def _submit(client: ClientRecord) -> Response:
    form = request.form
    ref = attestations.PersonRef(form.get("person_id"), form.get("idp_issuer"),
                                 form.get("idp_subject"))
    settings = current_app.extensions["entitlements.settings"]
    with current_app.extensions["entitlements.db"].transaction() as session:
        row = attestations.submit(
            session, client_id=client.client_id, org_id=client.organization_id, ref=ref,
            credential=form.get("credential", ""), form=form.get("format", "jwt"),
            audience=settings.issuer, now=_now(),
            verifiers=current_app.extensions["entitlements.verifiers"])
        body = {"attestation_id": row.id, "person_id": row.person_id,
                "nationalities": row.nationalities, "assurance_level": row.assurance_level,
                "verified_at": row.verified_at.isoformat(),
                "expires_at": row.expires_at.isoformat()}
    return jsonify(body)


def _refusals_answered(handler: Callable[[ClientRecord], Response]
                       ) -> Callable[[ClientRecord], Response]:
    """A refused attestation: 400 with its reason code, and one audit event."""

    def answered(client: ClientRecord) -> Response:
        try:
            return handler(client)
        except AttestationRefused as refused:
            _audit_refusal(refused)
            response = jsonify(error=refused.reason, error_description=refused.message)
            response.status_code = 400
            return response

    return answered


def _audit_refusal(refused: AttestationRefused) -> None:
    with current_app.extensions["entitlements.db"].transaction() as session:
        audit.record(session, at=_now(), actor="anonymous", action="attestation.refused",
                     outcome=audit.FAILURE, reason=refused.reason,
                     details={"message": refused.message})


def _now():
    return current_app.extensions["entitlements.clock"].now()
