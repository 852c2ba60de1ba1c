"""Signing-key rotation and revocation as a PyJWT gateway on loopback experiences them."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
import requests

from entitlements.base.actor import Actor
from entitlements.signing import service as signing
from entitlements.signing.keyring import KeyInfo
from entitlements.signing.keystore import FileKeyStore
from tests.support.factories import GATEWAY

ALG = "ES256"


class KeyAdmin:
    """`entitlements keys rotate|revoke` through the service, then the server re-reads keys."""

    def __init__(self, live_server, db, keys_dir, clock) -> None:
        self.server, self.db, self.clock = live_server, db, clock
        self.store = FileKeyStore(keys_dir)
        self.settings = live_server.app.extensions["entitlements"].settings

    @property
    def token_lifetime(self) -> timedelta:
        """How long a signed token may still be accepted: its TTL plus the clock leeway."""
        return timedelta(seconds=self.settings.access_token_ttl + self.settings.clock_leeway)

    def rotate(self) -> KeyInfo:
        prepublish = timedelta(seconds=self.settings.key_prepublish_seconds)
        with self.db.transaction() as session:
            info = signing.rotate(session, self.store, self._actor(), ALG, prepublish)
        self._reload()
        return info

    def revoke(self, kid: str) -> KeyInfo | None:
        with self.db.transaction() as session:
            info = signing.revoke(session, self.store, self._actor(), kid, "compromised",
                                  self.token_lifetime)
        self._reload()
        return info

    def published(self) -> set[str]:
        keys = requests.get(self.server.url + "/jwks.json", timeout=5).json()["keys"]
        return {k["kid"] for k in keys}

    def _actor(self) -> Actor:
        return Actor("admin", self.clock.now())

    def _reload(self) -> None:
        # The server re-reads key metadata every 5 s; skip the wait.
        self.server.app.extensions["entitlements"].keys.invalidate()


@pytest.fixture
def keys(live_server, db, keys_dir, clock) -> KeyAdmin:
    return KeyAdmin(live_server, db, keys_dir, clock)


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def cached_kids(gw) -> set[str]:
    """The kids in the gateway's cached JWKS (no network: the cache is warm)."""
    return {key.key_id for key in gw.jwks.get_signing_keys()}


def test_token_signed_before_rotation_verifies_after_it(oauth, partner, keys, gateway, clock):
    """Rotation publishes a second key; the old key keeps signing, then stays published."""
    before = oauth.access_token(partner)
    new_key = keys.rotate()
    assert keys.published() == {kid_of(before), new_key.kid}

    claims = gateway().verify(before)  # full PyJWT checks, wall-clock time
    assert claims["client_id"] == partner.client_id and claims["aud"] == GATEWAY
    assert kid_of(oauth.access_token(partner)) == kid_of(before)  # new key is only pending

    clock.set(new_key.activates_at - timedelta(seconds=1))
    last_old = oauth.access_token(partner)
    clock.set(new_key.activates_at)
    assert kid_of(oauth.access_token(partner)) == new_key.kid
    assert kid_of(last_old) == kid_of(before)
    assert gateway().verify(last_old, at=clock.now())["jti"]


def test_prepublished_key_verifies_without_refetch(oauth, partner, keys, gateway, clock,
                                                   jwks_hits):
    """A JWKS fetched during pre-publication already holds the key that signs next."""
    old_kid = kid_of(oauth.access_token(partner))
    new_key = keys.rotate()
    gw = gateway()
    gw.verify(oauth.access_token(partner))
    assert cached_kids(gw) == {old_kid, new_key.kid}
    assert gw.jwks.fetches == 1 and jwks_hits == ["GET"]

    clock.advance(seconds=keys.settings.key_prepublish_seconds + 1)
    token = oauth.access_token(partner)
    assert kid_of(token) == new_key.kid != old_kid
    claims = gw.verify(token, at=clock.now())
    assert claims["sub"] == partner.client_id and claims["entitlements"] == ["public"]
    assert gw.jwks.fetches == 1 and jwks_hits == ["GET"]


def test_verifier_cached_before_rotation_must_refetch(oauth, partner, keys, gateway, clock,
                                                      jwks_hits):
    """Control for the test above: without pre-publication the gateway has to re-fetch."""
    gw = gateway()
    gw.verify(oauth.access_token(partner))
    new_key = keys.rotate()
    clock.set(new_key.activates_at)
    gw.verify(oauth.access_token(partner), at=clock.now())
    assert gw.jwks.fetches == 2 and jwks_hits == ["GET", "GET"]


def test_retired_key_leaves_jwks_once_its_tokens_expired(oauth, partner, keys, gateway, clock):
    """The old key stays until activation + token TTL + leeway, and not a second longer."""
    old = oauth.access_token(partner)
    new_key = keys.rotate()
    clock.set(new_key.activates_at + keys.token_lifetime - timedelta(seconds=1))
    assert keys.published() == {kid_of(old), new_key.kid}

    clock.set(new_key.activates_at + keys.token_lifetime)
    assert keys.published() == {new_key.kid}
    with pytest.raises(jwt.PyJWKClientError, match=kid_of(old)):
        gateway().verify(old, at=clock.now())


def test_revoked_key_leaves_jwks_at_once_and_replacement_signs(oauth, partner, keys, gateway,
                                                               clock):
    """Revoking the signer withdraws it now; a fresh key signs the very next token."""
    old = oauth.access_token(partner)
    gw = gateway()
    gw.verify(old)

    replacement = keys.revoke(kid_of(old))
    assert replacement is not None and replacement.activates_at == clock.now()
    assert keys.published() == {replacement.kid}

    new = oauth.access_token(partner)
    assert kid_of(new) == replacement.kid
    assert gw.verify(new)["client_id"] == partner.client_id
    with pytest.raises(jwt.PyJWKClientError, match=kid_of(old)):
        gateway().verify(old)
    assert oauth.introspect(partner, old).json() == {"active": False}
    assert oauth.introspect(partner, new).json()["active"] is True


def test_revoked_pending_key_never_signs(oauth, partner, keys, clock):
    """Revoking a pre-published key withdraws it and leaves the current signer in place."""
    signer = kid_of(oauth.access_token(partner))
    pending = keys.rotate()
    assert keys.revoke(pending.kid) is None
    assert keys.published() == {signer}
    clock.set(pending.activates_at + timedelta(seconds=1))
    assert kid_of(oauth.access_token(partner)) == signer


def test_revoking_the_signer_brings_forward_the_key_already_published(oauth, partner, keys,
                                                                      gateway, clock):
    """A rotation waits to sign; the signer is revoked meanwhile: the waiting key, which
    every gateway's JWKS already holds, signs at once (no key gateways have not seen)."""
    old = kid_of(oauth.access_token(partner))
    gw = gateway()
    waiting = keys.rotate()
    gw.verify(oauth.access_token(partner))  # the gateway's JWKS now holds both keys
    promoted = keys.revoke(old)
    assert (promoted.kid, promoted.activates_at) == (waiting.kid, clock.now())
    assert keys.published() == {waiting.kid}
    new = oauth.access_token(partner)
    assert kid_of(new) == waiting.kid
    assert gw.verify(new)["client_id"] == partner.client_id
