"""RFC 8414 authorization server metadata (also served as OpenID discovery)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..base.settings import Settings
from ..issuance.id_tokens import ID_TOKEN_ALG
from ..kernel import dpop
from ..kernel.claims import tier_scope
from .client_auth import ASSERTION_ALGORITHMS
from .supported import AUTH_METHODS, GRANT_TYPES, PUBLIC


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
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "pushed_authorization_request_endpoint": f"{issuer}/oauth/par",
        "userinfo_endpoint": f"{issuer}/oauth/userinfo",
        "device_authorization_endpoint": f"{issuer}/oauth/device_authorization",
        # Per client (RFC 9126 6): a client registered with require_par must push.
        "require_pushed_authorization_requests": False,
        "grant_types_supported": list(GRANT_TYPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent"],
        "scopes_supported": ["openid", *sorted(tier_scope(t) for t in tiers)],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ID_TOKEN_ALG],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id",
                             "scope", "entitlements", "org", "ent_ver", "act", "citizenship",
                             "pol_ver", "status", "auth_time", "nonce", "acr", "amr",
                             "at_hash", "azp", "cnf"],
        "access_token_signing_alg_values_supported": [settings.signing_alg],
        "authorization_response_iss_parameter_supported": True,
        # RFC 9449 5.1: the algorithms DPoP proofs may be signed with.
        "dpop_signing_alg_values_supported": list(dpop.ALGORITHMS),
    }
    for endpoint in ("token_endpoint", "introspection_endpoint", "revocation_endpoint",
                     "pushed_authorization_request_endpoint"):
        methods = ([*auth["methods"], PUBLIC] if endpoint in (
            "token_endpoint", "pushed_authorization_request_endpoint") else auth["methods"])
        metadata[f"{endpoint}_auth_methods_supported"] = methods
        metadata[f"{endpoint}_auth_signing_alg_values_supported"] = auth["algs"]
    return metadata
