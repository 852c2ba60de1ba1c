"""private_key_jwt client authentication (RFC 7523 section 2.2, OIDC Core section 9).

Checks, in order: the assertion parses; ``sub`` names a known client registered for
private_key_jwt; the signature verifies with that client's key and an asymmetric
algorithm; ``iss`` = ``sub`` = client_id; ``aud`` is this server, alone (the issuer, the token
endpoint, or the endpoint called: one value, as the RFC 7523 revision asks); ``exp`` is within
the maximum lifetime (an hour by default, what stock clients such as Authlib sign); ``jti``
was never seen before, and is kept until the assertion expires. Time comes from our clock,
not from PyJWT's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from authlib.oauth2.rfc6749 import InvalidClientError

from ..base import jose
from ..base.clock import Clock
from ..base.db import Database
from ..base.remote_jwks import JwksUnavailable, RemoteJwks, find_key
from ..clients.assertions import first_use
from ..clients.models import AuthMethod
from .client_record import ClientRecord
from .errors import echo

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = jose.ASYMMETRIC_ALGORITHMS
MAX_ASSERTION_BYTES = 8192
REQUIRED = ["iss", "sub", "aud", "exp", "jti"]
#: How each refusal of the verifier reads to the client.
MESSAGES = {
    "wrong_audience": "The assertion's 'aud' is not this server.",
    "wrong_issuer": "The assertion's 'iss' must be the client_id.",
    "bad_signature": "The assertion's signature does not verify.",
    "malformed": "The assertion's signature does not verify.",
}


class PrivateKeyJWT:
    METHOD = AuthMethod.PRIVATE_KEY_JWT.value

    def __init__(
        self, *, audiences: list[str], db: Database, clock: Clock, remote_jwks: RemoteJwks,
        max_lifetime: int, leeway: int,
    ) -> None:
        self.audiences = audiences
        self._db, self._clock, self._remote = db, clock, remote_jwks
        self._max_lifetime = timedelta(seconds=max_lifetime)
        self._leeway = timedelta(seconds=leeway)

    def __call__(
        self, query_client: Callable[[str], ClientRecord | None], request: Any
    ) -> ClientRecord | None:
        form = request.form
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return None
        assertion = form.get("client_assertion") or ""
        try:
            header, unverified = jose.peek(assertion, MAX_ASSERTION_BYTES)
        except jose.JwtRefused as refused:
            raise _invalid(f"The client_assertion {refused.detail}.") from None
        client = self._client(query_client, unverified, form.get("client_id"))
        claims = self._verify(assertion, header, client)
        self._consume_jti(client.client_id, str(claims["jti"]), claims["exp"])
        return client

    def _client(
        self, query_client: Callable[[str], ClientRecord | None], claims: dict[str, Any],
        form_client_id: str | None,
    ) -> ClientRecord:
        client_id = claims.get("sub")
        if not isinstance(client_id, str) or not client_id:
            raise _invalid("The assertion has no 'sub' claim naming the client.")
        if form_client_id and form_client_id != client_id:
            raise _invalid("'client_id' does not match the assertion's 'sub'.")
        client = query_client(client_id)
        if client is None:
            raise _invalid("The client does not exist on this server.")
        if client.auth_method != self.METHOD:
            raise _invalid("The client is not registered for private_key_jwt.")
        return client

    def _verify(self, assertion: str, header: dict[str, Any], client: ClientRecord) -> dict:
        try:
            alg = jose.allowed_algorithm(header, ASSERTION_ALGORITHMS)
        except jose.JwtRefused:
            raise _invalid(f"Assertion algorithm '{echo(header.get('alg'))}' is not "
                           "allowed.") from None
        key = self._key(client, header.get("kid"))
        try:
            claims = jose.verify_signature(assertion, key, alg, issuer=client.client_id,
                                           required=REQUIRED)
        except jose.JwtRefused as refused:
            if refused.reason == "missing_claim":
                raise _invalid(f"The assertion lacks the '{refused.claim}' claim.") from None
            raise _invalid(MESSAGES[refused.reason]) from None
        if not _addressed_to(claims.get("aud"), self.audiences):
            raise _invalid(MESSAGES["wrong_audience"])
        self._check_times(claims)
        return claims

    def _key(self, client: ClientRecord, kid: Any) -> jwt.PyJWK:
        try:
            return find_key(self._remote, jwks=client.jwks, jwks_uri=client.jwks_uri, kid=kid,
                            owner="the client")
        except JwksUnavailable as error:
            raise _invalid(f"The client's keys are unavailable: {echo(error, 200)}") from None
        except LookupError:
            raise _invalid(f"No key '{echo(kid)}' is registered for the client.") from None

    def _check_times(self, claims: dict[str, Any]) -> None:
        now = self._clock.now()
        exp = _time(claims, "exp")
        if exp is None or exp + self._leeway <= now:
            raise _invalid("The assertion has expired.")
        if exp - now > self._max_lifetime + self._leeway:
            raise _invalid("The assertion lives too long; 'exp' must be within "
                           f"{int(self._max_lifetime.total_seconds())} seconds.")
        for name in ("iat", "nbf"):
            moment = _time(claims, name)
            if moment is not None and moment - self._leeway > now:
                raise _invalid(f"The assertion's '{name}' is in the future.")

    def _consume_jti(self, client_id: str, jti: str, exp: int) -> None:
        if not jti or len(jti) > 200:
            raise _invalid("The assertion's 'jti' must be 1 to 200 characters.")
        expires = datetime.fromtimestamp(exp, UTC) + self._leeway
        with self._db.transaction() as session:
            if not first_use(session, client_id, jti, expires, self._clock.now()):
                raise _invalid("The assertion's 'jti' has been used before.")


def _addressed_to(aud: Any, audiences: list[str]) -> bool:
    """One audience, and one of ours: an array naming another party too is not."""
    values = aud if isinstance(aud, list) else [aud]
    return len(values) == 1 and isinstance(values[0], str) and values[0] in audiences


def _time(claims: dict[str, Any], name: str) -> datetime | None:
    try:
        return jose.numeric_date(claims, name)
    except ValueError as error:
        raise _invalid(f"The assertion's {error}.") from None


def _invalid(description: str) -> InvalidClientError:
    return InvalidClientError(description=description, status_code=401)
