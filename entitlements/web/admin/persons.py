"""/admin/.../persons: the people acting for an organization."""

from __future__ import annotations

from flask import Response, jsonify

from ...persons import service as persons
from ...persons.schemas import PersonCreateSchema, PersonSchema
from .auth import actor, admin_blueprint, admin_required, database, json_body, transaction

blueprint = admin_blueprint("admin_persons", __name__)


@blueprint.post("/organizations/<org_id>/persons")
@admin_required
def create_person(org_id: str) -> tuple[Response, int]:
    body = json_body(PersonCreateSchema())
    with transaction() as session:
        person = persons.create(session, actor(), org_id, **body)
        session.flush()
        return jsonify(PersonSchema().dump(person)), 201


@blueprint.get("/organizations/<org_id>/persons")
@admin_required
def list_persons(org_id: str) -> Response:
    with database().sessions() as session:
        return jsonify(PersonSchema(many=True).dump(persons.list_for(session, org_id)))


@blueprint.get("/persons/<person_id>")
@admin_required
def get_person(person_id: str) -> Response:
    with database().sessions() as session:
        return jsonify(PersonSchema().dump(persons.get(session, person_id)))
