"""Talking to the live server as real clients and gateways do, and setting the scene for
the interop tests: a verifying gateway, plain OAuth calls, the catalog, time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jwt
import requests

from entitlements.policy import service as policy
from tests.support.factories import GATEWAY, Partner

DISCOVERY = "/.well-known/oauth-authorization-server"
REQUIRED = ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope",
            "entitlements", "org", "ent_ver"]


class CountingJWKClient(jwt.PyJWKClient):
    """PyJWT's JWKS client, counting how often it downloads the set.

    ``cooldown_duration=0`` lets an unknown kid trigger a re-fetch at once, so a
    fetch count that stays put really means the cached set sufficed.
    """

    def __init__(self, uri: str) -> None:
        super().__init__(uri, cache_jwk_set=True, lifespan=3600, cooldown_duration=0)
        self.fetches = 0

    def fetch_data(self) -> Any:
        self.fetches += 1
        return super().fetch_data()


class Gateway:
    """A resource server verifying tokens with the JWKS named by discovery."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.metadata = requests.get(issuer + DISCOVERY, timeout=5).json()
        self.jwks = CountingJWKClient(self.metadata["jwks_uri"])

    def verify(self, token: str, *, at: datetime | None = None) -> dict[str, Any]:
        """Verify signature, typ, iss, aud and required claims.

        Without ``at`` PyJWT checks exp/nbf/iat against the wall clock. With ``at``
        (a token minted after the FrozenClock was advanced, so "in the future" in
        real time) PyJWT's time checks are off and the window is checked against
        ``at`` instead: those tests are about keys, not about wall-clock time.
        """
        assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
        key = self.jwks.get_signing_key_from_jwt(token)
        options: dict[str, Any] = {"require": REQUIRED}
        if at is not None:
            options.update(verify_exp=False, verify_nbf=False, verify_iat=False)
        claims = jwt.decode(token, key, algorithms=["ES256"], issuer=self.issuer,
                            audience=GATEWAY, options=options)
        if at is not None:
            assert claims["nbf"] <= at.timestamp() < claims["exp"]
        return claims


class OAuthCalls:
    """Plain ``requests`` calls to the token, introspection and revocation endpoints."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def token(self, partner: Partner, **form: str) -> requests.Response:
        return self._post("/oauth/token", partner, grant_type="client_credentials", **form)

    def access_token(self, partner: Partner, **form: str) -> str:
        response = self.token(partner, **form)
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def introspect(self, partner: Partner, token: str) -> requests.Response:
        return self._post("/oauth/introspect", partner, token=token)

    def revoke(self, partner: Partner, token: str) -> requests.Response:
        return self._post("/oauth/revoke", partner, token=token)

    def _post(self, path: str, partner: Partner, **form: str) -> requests.Response:
        return requests.post(self.issuer + path, data=form, timeout=5,
                             auth=(partner.client_id, partner.client_secret))


VERIFIED = ["government_partner", "trusted", "verified"]
CATALOG = {
    "tiers": {name: {"status": "open", "trust_levels": VERIFIED}
              for name in ("public", "restricted", "early-access")},
    "models": {"base-1": {"tier": "public"},
               "frontier-2": {"tier": "restricted", "fallback": "base-1"},
               "preview-3": {"tier": "early-access", "fallback": "frontier-2"}},
}


def change_policy(db, admin, reason: str, **patch) -> int:
    with db.transaction() as session:
        base = policy.latest(session).version
        row = policy.create_version(session, admin.actor(), base_version=base, reason=reason,
                                    **patch)
        policy.activate(session, admin.actor(), row.version, reason=reason)
        return row.version


def token_for(live_server, partner) -> str:
    response = requests.post(live_server.url + "/oauth/token", timeout=5,
                             data={"grant_type": "client_credentials"},
                             auth=(partner.client_id, partner.client_secret))
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def bound_token_for(live_server, partner, key, now: float) -> str:
    """A client-credentials token bound to the DPoP key ``key`` (a ``ProofKey``)."""
    endpoint = live_server.url + "/oauth/token"
    response = requests.post(endpoint, timeout=5, data={"grant_type": "client_credentials"},
                             auth=(partner.client_id, partner.client_secret),
                             headers={"DPoP": key.proof("POST", endpoint, now=now)})
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "DPoP"
    return response.json()["access_token"]


class ServiceTime:
    """The SDK's clock, following the service's FrozenClock: both move together, so a test
    moves time by advancing the one clock instead of sleeping."""

    def __init__(self, clock) -> None:
        self._clock = clock

    def time(self) -> float:
        return self._clock.now().timestamp()

    def monotonic(self) -> float:
        return self._clock.now().timestamp()


def republish(live_server) -> None:
    """What an admin API change does on commit: the service's caches (the status lists are
    rebuilt at most every 0.5 s) see it now."""
    live_server.app.extensions["entitlements"].changed()
