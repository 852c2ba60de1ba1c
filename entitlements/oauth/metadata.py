"""RFC 8414 authorization server metadata (also served as OpenID discovery)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..base.settings import Settings
from ..kernel.claims import tier_scope
from .client_auth import ASSERTION_ALGORITHMS
from .supported import AUTH_METHODS, GRANT_TYPES


def server_metadata(settings: Settings, tiers: Iterable[str]) -> dict[str, Any]:
    issuer = settings.issuer
    auth = {"methods": AUTH_METHODS, "algs": list(ASSERTION_ALGORITHMS)}
    metadata: dict[str, Any] = {
        "issuer": issuer,
        "token_endpoint": settings.token_endpoint,
        "jwks_uri": f"{issuer}/jwks.json",
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        # Ours: where a partner's backend submits its people's citizenship attestations.
        "attestation_nonce_endpoint": f"{issuer}/attestations/nonce",
        "attestation_endpoint": f"{issuer}/attestations",
        # Ours: what gateways poll (the signed policy snapshot, the token status lists).
        "policy_snapshot_uri": f"{issuer}/policy",
        "policy_explain_endpoint": f"{issuer}/policy/explain",
        "status_lists_uri": f"{issuer}/status-lists",
        "grant_types_supported": list(GRANT_TYPES),
        # No authorization endpoint (yet): no response type is supported.
        "response_types_supported": [],
        "scopes_supported": sorted(tier_scope(t) for t in tiers),
        "subject_types_supported": ["public"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id",
                             "scope", "entitlements", "org", "ent_ver", "act", "citizenship",
                             "pol_ver", "status"],
        "access_token_signing_alg_values_supported": [settings.signing_alg],
        "authorization_response_iss_parameter_supported": False,
    }
    for endpoint in ("token_endpoint", "introspection_endpoint", "revocation_endpoint"):
        metadata[f"{endpoint}_auth_methods_supported"] = auth["methods"]
        metadata[f"{endpoint}_auth_signing_alg_values_supported"] = auth["algs"]
    return metadata
