"""Bad requests to /oauth/token: each is refused in JSON, audited once, and issues nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from entitlements.audit.models import AuditEvent
from entitlements.audit.service import STREAM_OPENED
from entitlements.oauth.errors import CLIENT_AUTHENTICATION_FAILED
from entitlements.tokens.models import IssuedToken
from tests.support.factories import Partner
from tests.support.helpers import FORM, assertion_form, basic, client_assertion

TOKEN = "/oauth/token"
GRANT = {"grant_type": "client_credentials"}
SAML_BEARER = "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"
CANNOT_AUTHENTICATE = ("The client cannot authenticate with methods: "
                       "['client_secret_basic', 'client_secret_post', 'private_key_jwt']")
NOT_FORM = "The request body must be application/x-www-form-urlencoded."
BAD_SIGNATURE = "The assertion's signature does not verify."
#: The description is not pinned, but it must be there.
ANY = object()


@dataclass
class Ctx:
    """Everything a case needs to build its request."""

    client: Any
    secret: Partner
    signer: Partner
    other_signer: Partner
    endpoint: str
    now: Any

    def auth(self) -> dict[str, str]:
        return {"headers": basic(self.secret.client_id, self.secret.client_secret)}

    def form(self, **fields: Any) -> dict[str, Any]:
        return {"data": {**GRANT, **fields}, **self.auth()}

    def assertion(self, partner: Partner | None = None, **overrides: Any) -> str:
        return client_assertion(partner or self.signer, self.endpoint, self.now(), **overrides)

    def signed(self, assertion: str, **extra: str) -> dict[str, Any]:
        return {"data": assertion_form(assertion, **GRANT, **extra)}


@pytest.fixture
def settings(settings):
    """The table sends dozens of failed authentications from one address; throttling has
    tests of its own (test_throttling)."""
    return settings.with_overrides(rate_limit_failures="1000/minute")


@pytest.fixture
def ctx(client, admin, settings, clock) -> Ctx:
    admin.gateway()
    return Ctx(
        client=client,
        secret=admin.partner("Secret Co"),
        signer=admin.partner("Signer Co", auth_method="private_key_jwt"),
        other_signer=admin.partner("Other Signer Co", auth_method="private_key_jwt"),
        endpoint=settings.token_endpoint,
        now=clock.now,
    )


def _foreign_key(c: Ctx) -> dict[str, Any]:
    """Signed by a key the server never saw, under the client's registered kid."""
    impostor = Partner(c.signer.org_id, c.signer.client_id, private_key=ec.generate_private_key(
        ec.SECP256R1()), kid=c.signer.kid)
    return c.signed(c.assertion(impostor))


def _expired(c: Ctx) -> dict[str, Any]:
    old = client_assertion(c.signer, c.endpoint, c.now() - timedelta(minutes=10))
    return c.signed(old)


def _reused_jti(c: Ctx) -> dict[str, Any]:
    request = c.signed(c.assertion())
    first = c.client.post(TOKEN, **request)
    assert first.status_code == 200, first.get_json()
    return request


def _claims(c: Ctx) -> dict[str, Any]:
    return jwt.decode(c.assertion(), options={"verify_signature": False})


def _alg_none(c: Ctx) -> dict[str, Any]:
    return c.signed(jwt.encode(_claims(c), None, algorithm="none", headers={"kid": c.signer.kid}))


def _hs256(c: Ctx) -> dict[str, Any]:
    token = jwt.encode(_claims(c), "s" * 64, algorithm="HS256", headers={"kid": c.signer.kid})
    return c.signed(token)


def _quoted_kid(c: Ctx) -> dict[str, Any]:
    signer = Partner(c.signer.org_id, c.signer.client_id, private_key=c.signer.private_key,
                     kid='k"\\')
    return c.signed(c.assertion(signer))


Build = Callable[[Ctx], dict[str, Any]]
CASES = [
    pytest.param(lambda c: {"json": GRANT, **c.auth()}, 400, "invalid_request", NOT_FORM,
                 id="json-body"),
    pytest.param(lambda c: {"data": "grant_type=client_credentials", "content_type": "text/plain",
                            **c.auth()}, 400, "invalid_request", NOT_FORM, id="text-plain-body"),
    pytest.param(lambda c: {"data": {"scope": "tier:public"}, **c.auth()}, 400,
                 "invalid_request", ANY, id="missing-grant-type"),
    pytest.param(lambda c: {"data": GRANT, "headers": basic("cli_nobody", "secret")}, 401,
                 "invalid_client", "The client does not exist on this server.",
                 id="unknown-client"),
    pytest.param(lambda c: {"data": GRANT, "headers": basic("c" * 500, "secret")}, 401,
                 "invalid_client", "The client does not exist on this server.",
                 id="overlong-client-id"),
    pytest.param(lambda c: {"data": GRANT, "headers": basic(c.secret.client_id, "wrong")}, 401,
                 "invalid_client", CANNOT_AUTHENTICATE, id="wrong-secret"),
    pytest.param(lambda c: {"data": GRANT, "headers": {"Authorization": "Basic !!not-base64!!"}},
                 401, "invalid_client", "the Basic credentials are not base64 of UTF-8 id:secret",
                 id="basic-not-base64"),
    pytest.param(lambda c: {**c.form(), "query_string": {"scope": "tier:public"}}, 400,
                 "invalid_request", "Parameters must be sent in the request body, not the URL.",
                 id="query-string"),
    pytest.param(lambda c: {"data": {"grant_type": ["client_credentials"] * 2}, **c.auth()}, 400,
                 "invalid_request", "Parameter 'grant_type' is repeated.",
                 id="repeated-parameter"),
    pytest.param(lambda c: c.form(padding="x" * 70_000), 413, "invalid_request",
                 "The request body is larger than 65536 bytes.", id="body-over-64k"),
    pytest.param(lambda c: {"data": b"grant_type=client_credentials&scope=tier:public\xff\xfe",
                            "content_type": FORM, **c.auth()}, 400, "invalid_request",
                 "The request body is not a valid form.", id="non-utf8-body"),
    pytest.param(lambda c: c.signed("not-a-jwt"), 401, "invalid_client",
                 "The client_assertion is not a well-formed JWT.", id="garbage-assertion"),
    pytest.param(lambda c: c.signed("a" * 9000), 401, "invalid_client",
                 "The client_assertion is missing or too large.", id="oversized-assertion"),
    pytest.param(_foreign_key, 401, "invalid_client", BAD_SIGNATURE, id="assertion-foreign-key"),
    pytest.param(lambda c: c.signed(client_assertion(c.signer, "https://elsewhere.test/token",
                                                     c.now())), 401, "invalid_client",
                 "The assertion's 'aud' is not this server.", id="assertion-wrong-aud"),
    pytest.param(_expired, 401, "invalid_client", "The assertion has expired.",
                 id="assertion-expired"),
    pytest.param(lambda c: c.signed(c.assertion(lifetime=7200)), 401, "invalid_client",
                 "The assertion lives too long; 'exp' must be within 3600 seconds.",
                 id="assertion-lives-too-long"),
    pytest.param(lambda c: c.signed(c.assertion(aud=[c.endpoint, "https://elsewhere.test"])),
                 401, "invalid_client", "The assertion's 'aud' is not this server.",
                 id="assertion-aud-names-another-party-too"),
    pytest.param(_reused_jti, 401, "invalid_client",
                 "The assertion's 'jti' has been used before.", id="assertion-reused-jti"),
    pytest.param(lambda c: c.signed(c.assertion(jti=None)), 401, "invalid_client",
                 "The assertion lacks the 'jti' claim.", id="assertion-without-jti"),
    pytest.param(lambda c: c.signed(c.assertion(exp="soon")), 401, "invalid_client",
                 "The assertion's 'exp' is not a NumericDate.", id="assertion-exp-not-number"),
    pytest.param(lambda c: c.signed(c.assertion(exp=10**20)), 401, "invalid_client",
                 "The assertion's 'exp' is out of range.", id="assertion-exp-out-of-range"),
    pytest.param(_alg_none, 401, "invalid_client", "Assertion algorithm 'none' is not allowed.",
                 id="assertion-alg-none"),
    pytest.param(_hs256, 401, "invalid_client", "Assertion algorithm 'HS256' is not allowed.",
                 id="assertion-hs256"),
    pytest.param(lambda c: c.signed(c.assertion(sub=c.other_signer.client_id)), 401,
                 "invalid_client", BAD_SIGNATURE, id="assertion-sub-is-another-client"),
    pytest.param(lambda c: c.signed(c.assertion(iss=c.other_signer.client_id)), 401,
                 "invalid_client", "The assertion's 'iss' must be the client_id.",
                 id="assertion-iss-is-another-client"),
    pytest.param(lambda c: c.signed(c.assertion(), client_id=c.other_signer.client_id), 401,
                 "invalid_client", "'client_id' does not match the assertion's 'sub'.",
                 id="client-id-differs-from-sub"),
    pytest.param(lambda c: c.signed(c.assertion(iss=c.secret.client_id, sub=c.secret.client_id)),
                 401, "invalid_client",
                 "The client is not registered for private_key_jwt.",
                 id="assertion-for-secret-client"),
    pytest.param(lambda c: c.form(client_id=c.secret.client_id,
                                  client_secret=c.secret.client_secret), 400,
                 "invalid_request", ANY, id="basic-and-secret-in-body"),
    pytest.param(lambda c: {**c.signed(c.assertion()), **c.auth()}, 400, "invalid_request", ANY,
                 id="basic-and-assertion"),
    pytest.param(lambda c: {"data": {**GRANT, "client_assertion_type": SAML_BEARER,
                                     "client_assertion": c.assertion()}}, 401, "invalid_client",
                 CANNOT_AUTHENTICATE, id="other-assertion-type"),
    pytest.param(lambda c: c.form(scope='tier:"x\\'), 400, "invalid_scope",
                 "Unknown tier '?x?'.", id="quote-and-backslash-in-scope"),
    pytest.param(lambda c: c.form(scope="tier:\x7f\x01"), 400, "invalid_scope",
                 "Unknown tier '??'.", id="control-characters-in-scope"),
    pytest.param(lambda c: c.form(scope="tier:\x00"), 400, "invalid_request",
                 "Parameter 'scope' holds a NUL character.", id="nul-in-scope"),
    pytest.param(lambda c: c.form(resource='https://x.test/"\\'), 400, "invalid_target",
                 "Unknown resource 'https://x.test/??'.", id="quote-and-backslash-in-resource"),
    pytest.param(lambda c: c.form(**{'x"\\': ["1", "2"]}), 400, "invalid_request",
                 "Parameter 'x??' is repeated.", id="quote-and-backslash-in-parameter-name"),
    pytest.param(_quoted_kid, 401, "invalid_client",
                 "No key 'k??' is registered for the client.", id="quote-and-backslash-in-kid"),
]


@pytest.mark.parametrize(("build", "status", "error", "description"), CASES)
def test_refused_in_json_audited_once_and_nothing_issued(
    ctx: Ctx, db, build: Build, status: int, error: str, description: object
):
    request = build(ctx)
    tokens, seen = _token_count(db), _audit_events(db)

    response = ctx.client.post(TOKEN, **request)

    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    failed_authentication = error == "invalid_client"
    _assert_body(body, error, CLIENT_AUTHENTICATION_FAILED if failed_authentication
                 else description)
    _assert_www_authenticate(response, status)
    assert _token_count(db) == tokens
    events = _events_after(db, seen)
    assert [(e.action, e.outcome) for e in events] == [("grant.refused", "failure")]
    assert events[0].reason.startswith(error)
    assert events[0].details["status"] == status
    if failed_authentication:  # the caller learns nothing; the audit event says what failed
        assert events[0].details["detail"] == description


def _assert_body(body: dict, error: str, description: object) -> None:
    assert body.get("error") == error
    if description is ANY:
        assert set(body) == {"error", "error_description"}
    else:
        assert body == {"error": error, "error_description": description}
    assert not set(body["error_description"]) & {'"', "\\"}


def _assert_www_authenticate(response, status: int) -> None:
    challenge = response.headers.get("WWW-Authenticate")
    if status == 401:
        assert challenge.startswith("Basic ") and 'error="invalid_client"' in challenge
    else:
        assert challenge is None


def test_no_case_is_a_server_error(ctx: Ctx):
    """Across the whole table no answer is a 5xx, and none may be cached."""
    answers = {case.id: ctx.client.post(TOKEN, **case.values[0](ctx)) for case in CASES}
    assert {i: r.status_code for i, r in answers.items() if r.status_code >= 500} == {}
    assert {r.headers["Cache-Control"] for r in answers.values()} == {"no-store"}


def test_get_on_token_endpoint_is_405_json(ctx: Ctx, db):
    """A GET is answered by the router: 405 in OAuth JSON with an Allow header, no token."""
    response = ctx.client.get(TOKEN, query_string=GRANT, **ctx.auth())
    assert response.status_code == 405
    assert response.mimetype == "application/json"
    assert response.get_json() == {"error": "invalid_request", "error_description":
                                   "The method is not allowed for the requested URL."}
    assert "POST" in response.headers["Allow"]
    assert _token_count(db) == 0


@pytest.mark.parametrize(("method", "path", "status", "mimetype"), [
    pytest.param("get", "/nope", 404, "application/problem+json", id="unknown-path"),
    pytest.param("post", "/oauth/nope", 404, "application/json", id="unknown-oauth-path"),
    pytest.param("get", "/oauth/token/extra", 404, "application/json", id="below-token"),
    pytest.param("post", "/jwks.json", 405, "application/problem+json", id="post-on-jwks"),
    pytest.param("delete", "/oauth/revoke", 405, "application/json", id="delete-on-revoke"),
])
def test_routing_errors_answer_json_never_html(client, method, path, status, mimetype):
    response = getattr(client, method)(path)
    assert response.status_code == status
    assert response.mimetype == mimetype
    assert b"<html" not in response.data.lower()
    body = response.get_json()
    if mimetype == "application/json":
        assert body["error"] == "invalid_request" and body["error_description"]
    else:
        assert body["status"] == status and body["title"] and body["type"] == "about:blank"


def _token_count(db) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(IssuedToken))


def _audit_events(db) -> set[tuple[str, int]]:
    with db.sessions() as session:
        return set(session.execute(select(AuditEvent.stream, AuditEvent.seq)).all())


def _events_after(db, seen: set[tuple[str, int]]) -> list[AuditEvent]:
    """The events written since ``seen``, but the announcements of new streams."""
    with db.sessions() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.action != STREAM_OPENED)
                               .order_by(AuditEvent.at, AuditEvent.seq)).all()
        return [e for e in rows if (e.stream, e.seq) not in seen]
