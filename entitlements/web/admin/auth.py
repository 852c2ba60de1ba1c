"""What every admin endpoint shares: its blueprint, its admin key and the role that allows
it (``requires``; who acts is ``web.authority``), the JSON body, the transaction that makes a
change visible to this process's caches at once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

from flask import Response, g, request
from marshmallow import Schema
from sqlalchemy.orm import Session

from ...admins import service as admins
from ...admins.roles import Permission, Principal
from ...base.db import Database
from ...base.errors import ProblemError, Unauthorized
from ..authority import audit_refusal, authorize
from ..errors import Family, FamilyBlueprint
from ..limits import MAX_JSON_DEPTH, json_depth, nul_in
from ..services import services

F = TypeVar("F", bound=Callable[..., Any])


class UnsupportedMediaType(ProblemError):
    code = "unsupported_media_type"
    status = 415
    title = "Unsupported media type"


def admin_blueprint(name: str, import_name: str) -> FamilyBlueprint:
    blueprint = FamilyBlueprint(name, import_name, url_prefix="/admin", family=Family.PROBLEM)
    blueprint.after_request(_audit_admin_refusal)
    return blueprint


def database() -> Database:
    return services().db


@contextmanager
def transaction() -> Iterator[Session]:
    """A transaction for one admin change; the token endpoint's caches see it at once."""
    with database().transaction() as session:
        yield session
    services().changed()


def requires(*permissions: Permission) -> Callable[[F], F]:
    """Authenticate ``Authorization: Bearer <admin key>`` and check that one of the key's
    roles allows one of ``permissions`` (403 ``forbidden_role`` otherwise); refusals are
    audited."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = _authenticated()
            authorize(principal, *permissions)
            return view(*args, **kwargs)

        wrapper.permissions = permissions  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def _authenticated() -> Principal:
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    principal = None
    if scheme.lower() == "bearer" and presented:
        with database().sessions() as session:
            principal = admins.authenticate(session, presented.strip())
    if principal is None:
        _audit_refusal("missing" if not presented else "invalid")
        raise Unauthorized("a valid admin key is required (Authorization: Bearer ...)")
    return principal


def json_body(schema: Schema) -> dict[str, Any]:
    """The request's JSON object, validated by ``schema`` (unknown fields refused): no
    deeper than ``MAX_JSON_DEPTH``, and no string holding a NUL character, which PostgreSQL
    cannot store (refused the same on every backend)."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("the request body must be application/json")
    if json_depth(request.get_data(cache=True)) > MAX_JSON_DEPTH:
        raise ProblemError(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels",
                           code="malformed_json")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ProblemError("the request body is not a JSON object", code="malformed_json")
    where = nul_in(body)
    if where is not None:
        raise InvalidCharacter(where)
    return schema.load(body)


class InvalidCharacter(ProblemError):
    code = "invalid_input"
    title = "Invalid input"

    def __init__(self, where: str) -> None:
        super().__init__(f"{where} holds a NUL character, which is not allowed")
        self.members = {"errors": {where: ["a NUL character is not allowed"]}}


def _audit_admin_refusal(response: Response) -> Response:
    """An authenticated admin's refused request (400, 403, 404, 409, ...) is audited with
    the problem's code and the fields it names (``authority.audit_refusal``)."""
    if not 400 <= response.status_code < 500 or not g.get("principal"):
        return response
    body = response.get_json(silent=True) or {}
    fields = ({"fields": sorted(body["errors"])[:20]} if isinstance(body.get("errors"), dict)
              else {})
    return audit_refusal(response, "admin.refused",
                         str(body.get("type", "")).rsplit(":", 1)[-1] or None, **fields)


def _audit_refusal(why: str) -> None:
    services().refusals.record(actor="anonymous", action="admin.auth_refused",
                               reason=f"{why} admin key",
                               details={"path": request.path[:200], "method": request.method})
