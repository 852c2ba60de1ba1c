"""Domain errors. Framework-free; rendered to HTTP only in ``web/errors.py``.

Each error carries a stable ``code``, a public ``message`` that is safe to send,
and a private ``detail`` that may be logged but is never sent.
"""

from __future__ import annotations


class EntitlementsError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, *, detail: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.detail = detail
        if code is not None:
            self.code = code


class ProblemError(EntitlementsError):
    """An RFC 9457 problem on the admin API; ``members`` are extension members (RFC 9457
    section 3.2) for what a client acts on, such as the activations in the way."""

    title = "Bad request"
    members: dict[str, object] = {}  # never mutated: an instance replaces it

    @property
    def type_uri(self) -> str:
        return f"urn:entitlements:problem:{self.code}"


class NotFound(ProblemError):
    code = "not_found"
    status = 404
    title = "Not found"


class Conflict(ProblemError):
    code = "conflict"
    status = 409
    title = "Conflict"


class InvalidInput(ProblemError):
    code = "invalid_input"
    status = 400
    title = "Invalid input"


class Unauthorized(ProblemError):
    code = "unauthorized"
    status = 401
    title = "Unauthorized"


class Forbidden(ProblemError):
    code = "forbidden"
    status = 403
    title = "Forbidden"


class ConfigError(EntitlementsError):
    """A setting is missing or wrong; raised at start-up."""

    code = "config_error"


class DatabaseNotReady(EntitlementsError):
    """The database is missing its schema or is behind the code's migrations."""

    code = "database_not_ready"


class TemporarilyUnavailable(ProblemError):
    """Something the request needs is briefly out of reach (the database, an overloaded
    writer): the caller should retry. OAuth endpoints answer ``temporarily_unavailable``."""

    code = "temporarily_unavailable"
    status = 503
    title = "Temporarily unavailable"
    retry_after = 1
