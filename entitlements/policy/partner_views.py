"""POST /policy/explain for partners: about themselves (the client's organization) or one
of their own people, "may we use model M now; if not, why, and what is the fallback"."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from ..oauth.client_record import ClientRecord
from ..persons.models import Person
from ..web.partner import partner_call
from .explain import SubjectRef, explain

blueprint = Blueprint("partner_policy", __name__)
MAX_TIERS = 50


@blueprint.post("/policy/explain")
def explain_for_partner() -> Response:
    return partner_call(_explain, "explain")


def _explain(client: ClientRecord) -> Response:
    form = request.form
    person_id, model = form.get("person_id"), form.get("model")
    tiers = form.get("tiers", "").split() or None
    if (model is not None and not 0 < len(model) <= 64) or len(tiers or ()) > MAX_TIERS:
        return _refused("invalid_request", "model is 1 to 64 characters; at most "
                                           f"{MAX_TIERS} tiers")
    now = current_app.extensions["entitlements.clock"].now()
    policy = current_app.extensions["entitlements.oauth"].policies.active(now)
    with current_app.extensions["entitlements.db"].sessions() as session:
        if person_id:
            person = session.get(Person, person_id)
            if person is None or person.organization_id != client.organization_id:
                return _refused("unknown_person", "no such person in your organization", 404)
        ref = SubjectRef(person_id=person_id) if person_id else SubjectRef(
            organization_id=client.organization_id)
        return jsonify(explain(session, policy, ref, now, model=model, tiers=tiers))


def _refused(error: str, description: str, status: int = 400) -> Response:
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    return response
