"""POST /policy/explain for partners: about themselves (the client's organization) or one
of their own people, "may we use model M now; if not, why, and what is the fallback"."""

from __future__ import annotations

from flask import Response, jsonify, request

from ...base.errors import InvalidInput, NotFound
from ...persons.models import Person
from ...policy.explain import SubjectRef, explain
from ..services import services
from .auth import authenticated_client, partner_blueprint

blueprint = partner_blueprint("partner_policy", __name__)
MAX_TIERS = 50


@blueprint.post("/policy/explain")
def explain_for_partner() -> Response:
    client = authenticated_client("explain")
    form = request.form
    person_id, model = form.get("person_id"), form.get("model")
    tiers = form.get("tiers", "").split() or None
    dpop_bound = form.get("dpop_bound", "false")
    if dpop_bound not in ("true", "false"):
        raise InvalidInput("dpop_bound is true or false", code="invalid_request")
    if (model is not None and not 0 < len(model) <= 64) or len(tiers or ()) > MAX_TIERS:
        raise InvalidInput(f"model is 1 to 64 characters; at most {MAX_TIERS} tiers",
                           code="invalid_request")
    found = services()
    now = found.clock.now()
    policy = found.policies.active(now)
    with found.db.sessions() as session:
        if person_id:
            person = session.get(Person, person_id)
            if person is None or person.organization_id != client.organization_id:
                raise NotFound("no such person in your organization", code="unknown_person")
        ref = SubjectRef(person_id=person_id) if person_id else SubjectRef(
            organization_id=client.organization_id)
        return jsonify(explain(session, policy, ref, now, model=model, tiers=tiers,
                               dpop_bound=dpop_bound == "true"))
