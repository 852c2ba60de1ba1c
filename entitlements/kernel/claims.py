"""Names and constants of the entitlement token, shared by the server and gateways."""

from __future__ import annotations

#: RFC 9068 section 2.1: the JOSE header ``typ`` of a JWT access token.
ACCESS_TOKEN_TYP = "at+jwt"
#: The JOSE header ``typ`` of the signed policy snapshot gateways poll.
SNAPSHOT_TYP = "entitlements-policy+jwt"
#: Version of the claim set below; bumped on any incompatible change.
CLAIMS_VERSION = 1

ISSUER = "iss"
SUBJECT = "sub"
AUDIENCE = "aud"
EXPIRES_AT = "exp"
ISSUED_AT = "iat"
NOT_BEFORE = "nbf"
JWT_ID = "jti"
CLIENT_ID = "client_id"
SCOPE = "scope"
#: RFC 9068 section 2.2.3.1 (from SCIM): the granted tier names.
ENTITLEMENTS = "entitlements"
#: ``{"id": ..., "trust": ...}``: the organization the caller acts for.
ORGANIZATION = "org"
CLAIMS_VERSION_CLAIM = "ent_ver"
#: RFC 8693 section 4.1: ``{"sub": client_id}``, the partner backend acting for a person.
ACTOR = "act"
#: Person tokens only: ``[{"nationality": "US", "level": "high", "exp": 1798675200}, ...]``,
#: the verified nationalities, each at its assurance level and until when it counts.
CITIZENSHIP = "citizenship"
NATIONALITY = "nationality"
ASSURANCE_LEVEL = "level"
#: The policy version the token's tiers were decided under.
POLICY_VERSION = "pol_ver"
#: IETF Token Status List: ``{"status_list": {"idx": 7, "uri": "https://.../status-lists/1"}}``.
STATUS = "status"
#: RFC 7800 / RFC 9449 6.1: ``{"jkt": thumbprint}``, the DPoP key a bound token is bound to.
CONFIRMATION = "cnf"

REQUIRED_CLAIMS = (
    ISSUER, SUBJECT, AUDIENCE, EXPIRES_AT, ISSUED_AT, JWT_ID, CLIENT_ID, ENTITLEMENTS,
    ORGANIZATION, CLAIMS_VERSION_CLAIM,
)

TIER_SCOPE_PREFIX = "tier:"
SIGNING_ALGORITHMS = ("ES256", "EdDSA", "RS256")


def tier_scope(tier: str) -> str:
    return TIER_SCOPE_PREFIX + tier


def tiers_from_scope(scope: str) -> list[str]:
    return [s[len(TIER_SCOPE_PREFIX):] for s in scope.split() if s.startswith(TIER_SCOPE_PREFIX)]
