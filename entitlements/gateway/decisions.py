"""What ``Gateway.decide`` answers, and which denials are about the token itself."""

from __future__ import annotations

from typing import NamedTuple

from ..kernel import dpop


class GatewayDecision(NamedTuple):
    """``outcome`` allow / fallback / deny; ``model`` is what to route to (None on deny)."""

    outcome: str
    model: str | None
    requested: str
    reason: str | None = None
    subject: str | None = None
    organization_id: str | None = None
    policy_version: int | None = None

    @property
    def allowed(self) -> bool:
        return self.outcome != "deny"

    @property
    def unavailable(self) -> bool:
        """A deny because the gateway has no documents to decide with yet (HTTP 503)."""
        return self.outcome == "deny" and self.reason in UNAVAILABLE_REASONS

    @property
    def proof_problem(self) -> bool:
        """A deny because the request does not prove possession of a bound token's key."""
        return self.outcome == "deny" and self.reason in DPOP_REASONS

    @property
    def token_problem(self) -> bool:
        """A deny because of the token itself (HTTP 401), not of the policy (403)."""
        return self.outcome == "deny" and self.reason in TOKEN_REASONS


TOKEN_REASONS = frozenset({
    "malformed", "algorithm_not_allowed", "wrong_typ", "unknown_kid", "bad_signature",
    "missing_claims", "wrong_issuer", "wrong_audience", "expired", "not_yet_valid",
    "revoked", "untrusted_status_list", "missing_token", "unsupported_claims_version",
    "unsupported_critical_header"}) | (dpop.REASONS.keys() - {"dpop_replay_unavailable"})
#: Denials because the issuer's documents, or the shared replay cache, cannot be had yet
#: (HTTP 503: retry).
UNAVAILABLE_REASONS = frozenset({"issuer_unavailable", "dpop_replay_unavailable"})
#: Token denials about DPoP: answered with a ``WWW-Authenticate: DPoP`` challenge.
DPOP_REASONS = frozenset(dpop.REASONS)
