"""/admin/.../persons: the people acting for an organization."""

from __future__ import annotations

from flask import Response, jsonify

from ...admins.roles import Permission
from ...persons import service as persons
from ...persons.schemas import PersonCreateSchema, PersonSchema
from ..authority import actor
from .auth import admin_blueprint, database, json_body, requires, transaction
from .described import described
from .listing import PageQuerySchema, page_response, query_args

blueprint = admin_blueprint("admin_persons", __name__)


@blueprint.post("/organizations/<org_id>/persons")
@described("Create a person of an organization",
           body=PersonCreateSchema, status=201, answer=PersonSchema)
@requires(Permission.ONBOARD)
def create_person(org_id: str) -> tuple[Response, int]:
    body = json_body(PersonCreateSchema())
    with transaction() as session:
        person = persons.create(session, actor(), org_id, **body)
        session.flush()
        return jsonify(PersonSchema().dump(person)), 201


@blueprint.get("/organizations/<org_id>/persons")
@described("List an organization's persons", query=PageQuerySchema, answer=PersonSchema, page=True)
@requires(Permission.READ)
def list_persons(org_id: str) -> Response:
    page = query_args(PageQuerySchema())
    with database().sessions() as session:
        return page_response(persons.list_for(session, org_id, **page), PersonSchema())


@blueprint.get("/persons/<person_id>")
@described("Show a person", answer=PersonSchema)
@requires(Permission.READ)
def get_person(person_id: str) -> Response:
    with database().sessions() as session:
        return jsonify(PersonSchema().dump(persons.get(session, person_id)))
