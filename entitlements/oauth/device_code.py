"""The device authorization grant (RFC 8628): the device polls the token endpoint with its
device code until the person has confirmed the user code, signed in and consented. The
answers while it waits are RFC 8628's: authorization_pending, slow_down, expired_token,
access_denied."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    InvalidGrantError,
    InvalidRequestError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.grants import BaseGrant, TokenEndpointMixin
from authlib.oauth2.rfc8628 import AuthorizationPendingError, ExpiredTokenError, SlowDownError

from ..issuance.codes import SignedInGrant
from ..signin import devices
from .dpop import bound_key
from .scopes import choose_audience
from .supported import AUTH_METHODS, DEVICE_CODE, PUBLIC, REFRESH_TOKEN


class DeviceCodeGrant(BaseGrant, TokenEndpointMixin):
    GRANT_TYPE = DEVICE_CODE
    TOKEN_ENDPOINT_AUTH_METHODS = [*AUTH_METHODS, PUBLIC]

    def validate_token_request(self) -> None:
        device_code = self.request.form.get("device_code")
        if not device_code:
            raise InvalidRequestError("Missing 'device_code'.")
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(DEVICE_CODE):
            raise UnauthorizedClientError("The client may not use the device flow.")
        self.request.jkt = bound_key(client, self.request)  # before the poll uses the code
        now = self.server.clock.now()
        with self.server.db.transaction() as session:  # the poll is noted even when refused
            row = devices.poll(session, device_code, client.client_id, now)
            outcome = _outcome(row, now) if row is not None else "unknown"
            if outcome == "approved" and not devices.use(session, row.device_code_hash):
                outcome = "unknown"  # another poll took it first
            grant = SignedInGrant(row.person_id or "", dict(row.params)) if row else None
        if outcome != "approved":
            raise OUTCOMES[outcome]()
        self.request.client, self.request.signed_in = client, grant

    def create_token_response(self) -> tuple[int, dict, list[tuple[str, str]]]:
        grant: SignedInGrant = self.request.signed_in
        resource = grant.params.get("resource")
        audience = choose_audience([resource] if resource else [],
                                   self.server.resources.snapshot())
        body = self.server.codes.tokens_for(
            self.request.client, grant, audience,
            with_refresh=self.request.client.check_grant_type(REFRESH_TOKEN),
            record=lambda session, jti: None, jkt=self.request.jkt, grant_type="device_code")
        return 200, body, self.TOKEN_RESPONSE_HEADER


def _outcome(row: devices.DeviceAuthorization, now) -> str:
    if row.expires_at <= now:
        return "expired"
    if row.status in ("denied", "used"):
        return "denied" if row.status == "denied" else "unknown"
    if devices.too_fast(row, now):
        return "slow_down"
    return "approved" if row.status == "approved" else "pending"


def _unknown() -> InvalidGrantError:
    return InvalidGrantError("The device code is unknown, used, or another client's.")


OUTCOMES = {
    "unknown": _unknown,
    "expired": ExpiredTokenError,
    "denied": AccessDeniedError,
    "slow_down": SlowDownError,
    "pending": AuthorizationPendingError,
}
