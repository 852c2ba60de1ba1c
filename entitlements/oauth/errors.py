"""OAuth errors Authlib lacks, and a guard for text echoed into error descriptions."""

from __future__ import annotations

from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    OAuth2Error,
)

#: What every failed client authentication answers, whatever failed (an unknown client, a
#: wrong secret, a bad assertion): client ids cannot be enumerated. The audit event keeps
#: what failed.
CLIENT_AUTHENTICATION_FAILED = "Client authentication failed."


def authentication_failed(detail: str | None) -> InvalidClientError:
    """A failed client authentication as the caller sees it; ``detail`` (what failed) goes
    to the audit event only."""
    error = InvalidClientError(description=CLIENT_AUTHENTICATION_FAILED, status_code=401)
    error.detail = detail  # type: ignore[attr-defined]
    return error


class InvalidTargetError(OAuth2Error):
    """RFC 8707 section 2: the requested resource is invalid or unknown."""

    error = "invalid_target"


def echo(value: object, limit: int = 100) -> str:
    """Caller-supplied text made safe for ``error_description`` (RFC 6749 section 5.2)."""
    text = str(value)[:limit]
    bad = set(invalid_error_characters(text))
    return "".join("?" if ch in bad else ch for ch in text)


class _Reasoned(OAuth2Error):
    """An OAuth error with a machine-readable ``reason`` member (an extension parameter,
    RFC 6749 section 8.2), so a partner can tell refusals apart."""

    def __init__(self, reason: str, description: str) -> None:
        super().__init__(description=description)
        self.reason = reason

    def get_body(self) -> list[tuple[str, str]]:
        return [*super().get_body(), ("reason", self.reason)]


class ReasonedInvalidRequest(_Reasoned, InvalidRequestError):
    """``invalid_request`` with its ``reason``."""


class ReasonedInvalidGrant(_Reasoned, InvalidGrantError):
    """``invalid_grant`` with its ``reason``: why a refresh was refused."""


class LoginRequiredError(OAuth2Error):
    """OIDC Core 3.1.2.6: ``prompt=none`` and nobody is signed in (or not freshly enough)."""

    error = "login_required"


class ConsentRequiredError(OAuth2Error):
    """OIDC Core 3.1.2.6: ``prompt=none`` and the person has not consented yet."""

    error = "consent_required"
