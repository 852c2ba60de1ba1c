"""The one place errors become HTTP responses.

The format is chosen by endpoint family, never by the look of a URL: each blueprint is a
``FamilyBlueprint`` that says which it is.

- ``OAUTH`` (``/oauth/token``, ``/oauth/introspect``, ``/oauth/revoke``): RFC 6749 JSON
  (``error``, ``error_description``) with ``Cache-Control: no-store``; a failed client
  authentication is 401 with ``WWW-Authenticate``.
- ``PROBLEM`` (the admin API, the partner endpoints, published documents, health): RFC 9457
  ``application/problem+json`` whose ``type`` is ``urn:entitlements:problem:<code>``.
- ``CONSOLE`` (``/console``): an HTML page of the console saying what was refused and why.
- ``PAGE`` (``/oauth/authorize`` and the sign-in pages): an OAuth error goes back to the
  client's redirect URI (with ``state`` and ``iss``) when Authlib matched it to the client,
  else, like every other error, it is an HTML page: never a redirect to an unchecked URI.

A routing error (no endpoint matched) takes the family of the blueprint whose URL prefix
holds the path. A view marked with ``audits_refusals`` has each refusal audited here, once.
Anything unexpected is logged with its traceback and answered with a generic 500 that
reveals nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

import sqlalchemy.exc
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import OAuth2Error
from flask import Blueprint, Flask, Response, current_app, g, json, redirect, request
from marshmallow import ValidationError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from ..base.errors import Conflict, InvalidInput, ProblemError, TemporarilyUnavailable
from ..oauth.dpop import DpopChallenge
from ..signin.errors import SignInRefused
from .console.pages import console_error
from .html import locked_down
from .services import services
from .signin.pages import error_page

log = logging.getLogger("entitlements.errors")
PROBLEM_TYPE = "application/problem+json"
ADMIN_REALM = 'Bearer realm="entitlements-admin"'
PROBLEM_PREFIX = "urn:entitlements:problem:"
F = TypeVar("F", bound=Callable[..., Any])
#: Answers that are errors in form only: a device polling while the person has not yet
#: answered (RFC 8628 3.5). Auditing each poll would record nothing worth keeping.
NOT_REFUSALS = frozenset({"authorization_pending", "slow_down"})
#: Seconds a client is told to wait before retrying a 503.
RETRY_AFTER = 1


class Family(StrEnum):
    OAUTH = "oauth"
    PROBLEM = "problem"
    #: Pages a person sees (sign-in): an HTML error page, or the error sent back to the
    #: client's redirect URI once it has been matched to the client.
    PAGE = "page"
    #: The admin console: an HTML error page in the console's frame.
    CONSOLE = "console"


class FamilyBlueprint(Blueprint):
    """A blueprint whose errors answer in its family's format; with ``no_store``, no answer
    of it may be cached (RFC 6749 section 5.1: they carry tokens, or say why not). Every
    answer of the page families (people's pages, the console), redirects and downloads too,
    carries the pages' headers (``html.locked_down``)."""

    def __init__(self, name: str, import_name: str, *, family: Family, no_store: bool = False,
                 **options: Any) -> None:
        super().__init__(name, import_name, **options)
        self.family = family
        if family in (Family.PAGE, Family.CONSOLE):
            self.after_request(locked_down)
        elif no_store:
            self.after_request(_no_store)


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def audits_refusals(action: str, details: Callable[[Response], dict[str, Any]] | None = None,
                    *, described: bool = True) -> Callable[[F], F]:
    """Mark a view whose refusals (4xx) are audited as ``action`` (outcome failure), with
    ``details(response)`` beside the status. The event's reason is the error code, followed
    by its description when ``described``."""

    def mark(view: F) -> F:
        view.refusal_audit = (action, details, described)  # type: ignore[attr-defined]
        return view

    return mark


def register(app: Flask) -> None:
    app.register_error_handler(DBAPIError, _database_error)
    app.register_error_handler(sqlalchemy.exc.TimeoutError, _database_error)
    app.register_error_handler(OAuth2Error, _oauth_error)
    app.register_error_handler(ProblemError, _problem_error)
    app.register_error_handler(ValidationError, _validation_error)
    app.register_error_handler(SignInRefused, _sign_in_refused)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    app.after_request(_audit_refusal)


def family() -> Family:
    blueprint = current_app.blueprints.get(request.blueprint or "")
    if blueprint is None:  # a routing error: the family that owns the URL space
        blueprint = next((b for b in current_app.blueprints.values()
                          if b.url_prefix and (request.path + "/").startswith(
                              b.url_prefix.rstrip("/") + "/")), None)
    return getattr(blueprint, "family", Family.PROBLEM)


def problem(status: int, title: str, detail: str, type_uri: str = "about:blank",
            **extra: object) -> Response:
    body = {"type": type_uri, "title": title, "status": status, "detail": detail, **extra}
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_TYPE)


def oauth_error(status: int, error: str, description: str,
                headers: list[tuple[str, str]] = ()) -> Response:  # type: ignore[assignment]
    body = {"error": error, "error_description": description}
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    for name, value in headers:
        response.headers[name] = value
    response.headers["Cache-Control"] = "no-store"
    return response


def _oauth_error(error: OAuth2Error) -> Response:
    g.refusal_detail = getattr(error, "detail", None)  # what failed, for the audit event only
    if error.error == "invalid_client":
        error.status_code = 401  # RFC 6749 section 5.2, with WWW-Authenticate
    elif (error.status_code == 401 and error.error != "invalid_token"
          and not isinstance(error, DpopChallenge)):  # a resource's DPoP challenge stays 401
        error.status_code = 400  # e.g. Authlib's unsupported_token_type (RFC 7009 2.2.1)
    if family() is Family.PAGE:
        return _page_oauth_error(error)
    status, body, headers = error()
    if family() is Family.OAUTH:
        response = Response(json.dumps(dict(body)), status=status, mimetype="application/json")
        for name, value in headers:
            if name.lower() != "content-type":
                response.headers[name] = value
        return response
    response = problem(status, error.error.replace("_", " ").capitalize(),
                       error.description or error.error, PROBLEM_PREFIX + error.error)
    for name, value in headers:
        if name.lower() == "www-authenticate":
            response.headers[name] = value
    response.headers["Cache-Control"] = "no-store"
    return response


def _page_oauth_error(error: OAuth2Error) -> Response:
    g.refused = (error.error, error.description)
    redirect_uri = getattr(error, "redirect_uri", None)
    if not redirect_uri:
        return error_page(400, "This sign-in request cannot be served",
                          error.description or error.error, error.error)
    pairs = [("error", error.error)]
    if error.description:
        pairs.append(("error_description", error.description))
    if error.state:
        pairs.append(("state", error.state))
    pairs.append(("iss", services().settings.issuer))
    return redirect(add_params_to_uri(redirect_uri, pairs))


def _sign_in_refused(refused: SignInRefused) -> Response:
    g.refused = (refused.reason, refused.message)
    return error_page(400, "Sign-in stopped", refused.message, refused.reason)


def _human(status: int, title: str, message: str, reason: str | None = None
           ) -> Response | None:
    """The error as a page, for the families whose callers are people; else None."""
    if family() is Family.CONSOLE:
        return console_error(status, title, message, reason)
    if family() is Family.PAGE:
        return error_page(status, title, message, reason)
    return None


def _problem_error(error: ProblemError) -> Response:
    if error.detail:
        log.info("%s: %s", error.code, error.detail)
    page = _human(error.status, error.title, error.message, error.code)
    if page is not None:
        return page
    if family() is Family.OAUTH:
        code = ("temporarily_unavailable" if error.status == 503 else
                "server_error" if error.status >= 500 else "invalid_request")
        response = oauth_error(error.status, code, error.message)
    else:
        response = problem(error.status, error.title, error.message, error.type_uri,
                           **error.members)
        if error.status == 401:
            response.headers["WWW-Authenticate"] = ADMIN_REALM
    if error.status == 503:  # every "retry later": the database, DNS, a registry
        response.headers["Retry-After"] = str(getattr(error, "retry_after", RETRY_AFTER))
    return response


def _validation_error(error: ValidationError) -> Response:
    page = _human(400, "Invalid input", "The form failed validation: " + "; ".join(
        f"{field}: {problems[0] if isinstance(problems, list) else problems}"
        for field, problems in sorted(error.normalized_messages().items())), "invalid_input")
    if page is not None:
        return page
    if family() is Family.OAUTH:
        return oauth_error(400, "invalid_request", "The request failed validation.")
    return problem(400, "Invalid input", "The request body failed validation.",
                   PROBLEM_PREFIX + "invalid_input", errors=error.normalized_messages())


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    description = error.description or error.name
    page = _human(status, error.name, description, error.name.lower().replace(" ", "_"))
    if page is not None:
        return page
    if family() is Family.OAUTH:
        code = ("server_error" if status >= 500 else
                "temporarily_unavailable" if status == 429 else "invalid_request")
        response = oauth_error(status, code, description)
    else:
        response = problem(status, error.name, description)
    for name, value in error.get_headers():
        if name.lower() in ("allow", "retry-after"):
            response.headers[name] = value
    return response


def _database_error(error: Exception) -> Response:
    """A database that cannot be reached is a retryable 503, never a 500; a constraint that
    a concurrent change won is a 409. Logged with the operation and the error's code only:
    never the statement's parameters (the engine hides them too)."""
    original = getattr(error, "orig", None) or error
    code = getattr(original, "sqlstate", None) or getattr(original, "sqlite_errorname", None)
    log.error("database error on %s %s: %s (%s)", request.method, request.path,
              type(original).__name__, code or "no code")
    if isinstance(error, sqlalchemy.exc.IntegrityError):
        return _problem_error(Conflict("the change conflicts with another made at the same "
                                       "time; read again and retry", code="conflict"))
    if isinstance(error, sqlalchemy.exc.DataError):
        return _problem_error(InvalidInput("a value does not fit what the database stores"))
    return _problem_error(TemporarilyUnavailable("the database is unavailable; retry"))


def _unexpected(error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    page = _human(500, "Something went wrong", "The server met an unexpected error.")
    if page is not None:
        return page
    if family() is Family.OAUTH:
        return oauth_error(500, "server_error", "The server met an unexpected error.")
    return problem(500, "Internal server error", "The server met an unexpected error.")


def _audit_refusal(response: Response) -> Response:
    """One audit event for each refusal (4xx or 5xx) of a view marked ``audits_refusals``,
    written on the refusal log's own streams, never failing the response."""
    refused = g.get("refused")  # a page's refusal, perhaps sent back to the client
    if (response.status_code < 400 and refused is None) or request.endpoint is None:
        return response
    view = current_app.view_functions.get(request.endpoint)
    marked = getattr(view, "refusal_audit", None)
    if marked is None:
        return response
    action, details, described = marked
    body = response.get_json(silent=True) or {}
    error = str(refused[0] if refused else body.get("error")
                or body.get("type", "").removeprefix(PROBLEM_PREFIX) or "invalid_request")
    if error in NOT_REFUSALS:
        return response
    description = ((refused[1] if refused else body.get("error_description")
                    or body.get("detail")) if described else None)
    services().refusals.record(
        actor="anonymous", action=action,
        reason=f"{error}: {description}" if description else error,
        details={**(details(response) if details else {}), "status": response.status_code,
                 **({"detail": g.refusal_detail} if g.get("refusal_detail") else {})})
    return response
