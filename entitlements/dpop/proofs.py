"""Checking a request's DPoP proof at this server: the kernel's checks, the signature with
PyJWT's algorithms, the nonce when nonces are on, then the proof's single use."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import jwt

from ..base.clock import Clock
from ..base.settings import Settings
from ..kernel import dpop
from ..kernel.dpop import Nonces, Proof, ProofRefused
from .replays import ReplayStore


class ProofChecker:
    def __init__(self, settings: Settings, clock: Clock, replays: ReplayStore) -> None:
        self.clock, self.replays = clock, replays
        self.max_age, self.leeway = settings.dpop_proof_max_age, settings.clock_leeway
        self.nonces = Nonces(settings.dpop_nonce_secret, settings.dpop_nonce_lifetime) if (
            settings.dpop_nonces) else None

    def check(self, values: list[str], *, method: str, uri: str,
              access_token: str | None = None, bound_to: str | None = None) -> Proof | None:
        """The request's proof (by the key ``bound_to``, when a token is bound), checked
        and spent; None when it has none. ProofRefused says why one is refused (a reason in
        ``dpop.NONCE_REASONS`` asks for a nonce)."""
        presented = dpop.single(values)
        if presented is None:
            return None
        moment = self.clock.now()
        now = moment.timestamp()
        proof = dpop.check(presented, method=method, uri=uri, now=now, max_age=self.max_age,
                           leeway=self.leeway, verify=verify_signature,
                           access_token=access_token, bound_to=bound_to)
        if self.nonces is not None and not self.nonces.valid(proof.nonce, now):
            raise ProofRefused("dpop_nonce_stale" if proof.nonce else "dpop_nonce_required")
        keep = timedelta(seconds=proof.keep(now, self.max_age, self.leeway))
        if not self.replays.first_use(proof.replay_key, moment, keep):
            raise ProofRefused("dpop_replayed")
        return proof

    def nonce(self) -> str | None:
        """The nonce to hand out now (``DPoP-Nonce``), when nonces are on."""
        return self.nonces.current(self.clock.now().timestamp()) if self.nonces else None


def verify_signature(jwk: Mapping[str, Any], jkt: str, alg: str, signing_input: bytes,
                     signature: bytes) -> bool:
    algorithm = jwt.get_algorithm_by_name(alg)
    try:
        key = algorithm.from_jwk(dict(jwk))
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        raise ProofRefused("dpop_bad_key") from None
    try:
        return algorithm.verify(signing_input, key, signature)
    except ValueError:
        return False
