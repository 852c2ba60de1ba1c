#!/usr/bin/env python3
"""A stand-in for a partner organization's own OpenID provider, to try people's sign-in on
one machine (and the test suite's upstream provider): built on Authlib's authorization
server, on a loopback socket, with the code flow and PKCE and ID tokens signed with its own
ES256 key. Whoever it is told signs in at once (``--subject``), as an organization's single
sign-on does for a person already signed in there.

    python scripts/dev_upstream.py --port 8100 --client-id ours --client-secret s3cret \
        --redirect-uri http://127.0.0.1:8000/signin/callback
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

import jwt
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from entitlements.base.clock import Clock, SystemClock, epoch


@dataclass
class UpstreamClient(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "client_secret_basic"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class UpstreamCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    subject: str

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class SignIn:
    """Who signs in upstream, and how (``acr``, ``amr``)."""

    subject: str = "alice"
    acr: str | None = "urn:example:loa:2"
    amr: list[str] = field(default_factory=lambda: ["pwd", "otp"])
    #: A verified e-mail address to put in ID tokens (an admin console signs admins in by it).
    email: str | None = None


class UpstreamProvider:
    def __init__(self, clock: Clock, port: int = 0) -> None:
        self.clock = clock
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.kid = "upstream-1"
        self.clients: dict[str, UpstreamClient] = {}
        self.codes: dict[str, UpstreamCode] = {}
        self.signs_in = SignIn()
        self.authorization_requests: list[dict[str, str]] = []
        self._server = make_server("127.0.0.1", port, self._build(), threaded=True)
        self.port = self._server.server_port
        self.issuer = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> UpstreamProvider:
        self._thread.start()
        return self

    def wait(self) -> None:
        self._thread.join()

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def register_client(self, redirect_uri: str, client_id: str | None = None,
                        client_secret: str | None = None) -> UpstreamClient:
        client = UpstreamClient(client_id or f"entitlements-{secrets.token_hex(4)}",
                                client_secret or secrets.token_urlsafe(24), [redirect_uri])
        self.clients[client.client_id] = client
        return client

    @property
    def jwks(self) -> dict[str, Any]:
        public = jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "ES256"}]}

    def id_token(self, client_id: str, subject: str, nonce: str | None, **extra: Any) -> str:
        now = epoch(self.clock.now())
        claims = {"iss": self.issuer, "sub": subject, "aud": client_id, "iat": now,
                  "exp": now + 300, "auth_time": now, "nonce": nonce,
                  "jti": secrets.token_hex(8), **extra}
        if self.signs_in.acr:
            claims["acr"] = self.signs_in.acr
        if self.signs_in.amr:
            claims["amr"] = self.signs_in.amr
        if self.signs_in.email:
            claims.update(email=self.signs_in.email, email_verified=True)
        return jwt.encode({k: v for k, v in claims.items() if v is not None}, self.key,
                          algorithm="ES256", headers={"kid": self.kid})

    def _build(self) -> Flask:
        app = Flask("upstream")
        server = AuthorizationServer(app, query_client=self.clients.get,
                                     save_token=lambda token, req: None)
        provider = self

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic"]

            def save_authorization_code(self, code: str, req: Any) -> None:
                data = req.payload.data
                provider.codes[code] = UpstreamCode(
                    code, req.client.client_id, req.payload.redirect_uri, req.scope,
                    data.get("nonce"), data.get("code_challenge"),
                    data.get("code_challenge_method"), req.user)

            def query_authorization_code(self, code: str, client: Any) -> UpstreamCode | None:
                found = provider.codes.get(code)
                return found if found and found.client_id == client.client_id else None

            def delete_authorization_code(self, authorization_code: UpstreamCode) -> None:
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: UpstreamCode) -> str:
                return authorization_code.subject

            def create_token_response(self) -> tuple[int, dict, list]:
                status, body, headers = super().create_token_response()
                found: UpstreamCode = self.request.authorization_code
                body["id_token"] = provider.id_token(found.client_id, found.subject,
                                                     found.nonce)
                return status, body, headers

        server.register_grant(CodeGrant, [CodeChallenge(required=True)])

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Any:
            return jsonify(issuer=provider.issuer,
                           authorization_endpoint=provider.issuer + "/authorize",
                           token_endpoint=provider.issuer + "/token",
                           jwks_uri=provider.issuer + "/jwks", response_types_supported=["code"],
                           code_challenge_methods_supported=["S256"],
                           id_token_signing_alg_values_supported=["ES256"],
                           subject_types_supported=["public"])

        @app.get("/jwks")
        def jwks() -> Any:
            return jsonify(provider.jwks)

        @app.get("/authorize")
        def authorize() -> Any:
            provider.authorization_requests.append(dict(request.args))
            grant = server.get_consent_grant(end_user=provider.signs_in.subject)
            return server.create_authorization_response(grant_user=provider.signs_in.subject,
                                                        grant=grant)

        @app.post("/token")
        def token() -> Any:
            return server.create_token_response()

        return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--client-id", default="entitlements")
    parser.add_argument("--client-secret", default=None)
    parser.add_argument("--redirect-uri", default="http://127.0.0.1:8000/signin/callback")
    parser.add_argument("--subject", default="alice", help="who signs in")
    parser.add_argument("--email", default=None, help="their verified e-mail address")
    args = parser.parse_args()
    provider = UpstreamProvider(SystemClock(), args.port)
    provider.signs_in = SignIn(args.subject, email=args.email)
    client = provider.register_client(args.redirect_uri, args.client_id, args.client_secret)
    print(f"issuer: {provider.issuer}  client_id: {client.client_id}  "
          f"client_secret: {client.client_secret}", flush=True)
    with provider, contextlib.suppress(KeyboardInterrupt):
        provider.wait()


if __name__ == "__main__":
    main()
