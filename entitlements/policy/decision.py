"""The entitlement decision: a pure function of (policy version, subject facts, requested
tiers, now). It lives in the gateway SDK (``entitlements.gateway.policy``) so gateways
decide exactly as the server does; the server imports it from there."""

from __future__ import annotations

from ..gateway.policy import (
    REASONS,
    Citizenship,
    Decision,
    ModelDecision,
    Subject,
    decide,
    decide_model,
    denial,
)

__all__ = ["REASONS", "Citizenship", "Decision", "ModelDecision", "Subject", "decide",
           "decide_model", "denial"]
