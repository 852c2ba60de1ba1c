"""The admin API's OpenAPI 3.1 document, built from the routes themselves and what each view
says of itself (``described``), with the same marshmallow schemas the views load and dump.

Every operation has an ``operationId`` (its view's name) and a tag (its resource), says
which permission it needs and which roles give it, and lists every status it can answer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, Response, current_app, jsonify
from werkzeug.routing import Rule

from ... import __version__
from ...admins.roles import Permission
from ..authority import roles_allowing
from ..services import services
from .auth import admin_blueprint
from .described import JSON, Described
from .listing import page_schema

blueprint = admin_blueprint("admin_openapi", __name__)

TAGS = {
    "organizations": "Applications, lifecycle, trust and tiers of partner organizations",
    "evidence": "Evidence about organizations: domains, LEIs, agreements, citizenship",
    "persons": "People acting for organizations",
    "attestation_issuers": "The verifiers whose citizenship statements count",
    "identity_providers": "Organizations' own identity providers",
    "clients": "OAuth clients of partner organizations",
    "consents": "What persons allowed clients at sign-in",
    "policy": "Policy versions, activation, dry runs and explanations",
    "approvals": "Two-person control on the policy, and the break-glass kill switch",
    "tokens": "Bulk revocation of live tokens",
    "jobs": "Long work and how far it got",
    "keys": "Signing keys and model gateways",
    "admins": "Admins, their roles and API keys",
    "audit": "The hash-chained audit log and its signed checkpoints",
    "reports": "Signed reports, who could use what at T, malicious-activity reports",
}
#: What any operation can answer: a malformed request, no valid admin key, roles that do not
#: allow it, a body over the limit, throttling, the database out of reach.
COMMON_ERRORS = (400, 401, 403, 413, 429, 503)
PARAMETER = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")


@blueprint.get("/openapi.json")
def openapi() -> Response:
    return jsonify(build_spec(current_app, services().settings.issuer))


def build_spec(app: Flask, issuer: str) -> dict[str, Any]:
    spec = APISpec(title="entitlements admin API", version=__version__, openapi_version="3.1.0",
                   plugins=[MarshmallowPlugin()], servers=[{"url": issuer}],
                   tags=[{"name": name, "description": text} for name, text in TAGS.items()])
    spec.components.security_scheme("adminKey", {"type": "http", "scheme": "bearer",
                                                 "description": "an admin API key (eak_...)"})
    spec.components.response("Problem", {
        "description": "An RFC 9457 problem", "content": {"application/problem+json": {
            "schema": {"type": "object", "properties": {
                "type": {"type": "string"}, "title": {"type": "string"},
                "status": {"type": "integer"}, "detail": {"type": "string"}}}}}})
    paths: dict[str, dict[str, Any]] = {}
    for rule, method, view in admin_operations(app):
        paths.setdefault(_path(rule), {})[method] = _operation(rule, method, view)
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def admin_operations(app: Flask) -> Iterator[tuple[Rule, str, Any]]:
    """Every admin route and method with its view (KeyError-free: a view that does not say
    what it is fails the document's test)."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin") or rule.endpoint == "admin_openapi.openapi":
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield rule, method.lower(), app.view_functions[rule.endpoint]


def error_statuses(rule: Rule, method: str, said: Described) -> list[int]:
    """Every error status the operation can answer."""
    statuses = set(COMMON_ERRORS)
    if said.body is not None:
        statuses.add(415)  # not application/json
    if rule.arguments or method != "get":
        statuses.add(404)  # an unknown id in the path or the body
    if method != "get" and said.conflicts:
        statuses.add(409)
    return sorted(statuses)


def _operation(rule: Rule, method: str, view: Any) -> dict[str, Any]:
    said: Described = view.described
    permissions: tuple[Permission, ...] = view.permissions
    responses: dict[str, Any] = {str(said.status): _answer(said)}
    if said.accepted is not None:
        responses["202"] = {"description": "Waiting for a second admin (Location: the request)",
                            "content": {JSON: {"schema": said.accepted}}}
    responses.update({str(code): {"$ref": "#/components/responses/Problem"}
                      for code in error_statuses(rule, method, said)})
    operation: dict[str, Any] = {
        "operationId": rule.endpoint.rsplit(".", 1)[1],
        "tags": [rule.endpoint.split(".")[0].removeprefix("admin_")],
        "summary": said.summary,
        "description": f"Needs the {' or '.join(f'`{p.value}`' for p in permissions)} "
                       f"permission (roles: {', '.join(roles_allowing(permissions))}).",
        "security": [{"adminKey": []}],
        "parameters": list(_path_parameters(rule)),
        "responses": responses,
    }
    if said.query is not None:
        operation["parameters"].append({"in": "query", "schema": said.query})
    if said.body is not None:
        operation["requestBody"] = {"required": True, "content": {JSON: {"schema": said.body}}}
    return operation


def _answer(said: Described) -> dict[str, Any]:
    if said.media != JSON:
        return {"description": "OK", "content": {said.media: {"schema": {"type": "string"}}}}
    schema: Any = ({"type": "object", "description": "see docs/admin-api.md"}
                   if said.answer is None else said.answer)
    if said.page:
        schema = page_schema(schema)
    return {"description": "OK", "content": {JSON: {"schema": schema}}}


def _path(rule: Rule) -> str:
    return PARAMETER.sub(lambda m: "{" + m.group(3) + "}", rule.rule)


def _path_parameters(rule: Rule) -> Iterator[dict[str, Any]]:
    for converter, arguments, name in PARAMETER.findall(rule.rule):
        schema: dict[str, Any] = {"type": "integer" if converter == "int" else "string"}
        if converter == "any":
            schema["enum"] = [a.strip() for a in arguments.split(",")]
        yield {"in": "path", "name": name, "required": True, "schema": schema}
