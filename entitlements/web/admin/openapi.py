"""The admin API's OpenAPI 3.1 document, built from the same marshmallow schemas."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Response, jsonify

from ... import __version__
from ...attestations.schemas import (
    AttestationIssuerCreateSchema,
    AttestationIssuerSchema,
    IssuerStatusSchema,
)
from ...audit.schemas import AuditEventSchema, ChainReportSchema
from ...clients.schemas import ClientRegistrationSchema, ClientSchema
from ...identity_providers.schemas import (
    IdentityProviderCreateSchema,
    IdentityProviderSchema,
    IdentityProviderStatusSchema,
    SignInSchema,
)
from ...organizations.schemas import (
    EvidenceSchema,
    OrganizationChangeSchema,
    OrganizationSchema,
    TrustRequestSchema,
)
from ...persons.schemas import PersonCreateSchema, PersonSchema
from ...policy.schemas import (
    ActivateSchema,
    ActivationSchema,
    CancelSchema,
    DryRunSchema,
    ExplainSchema,
    FreeFormSchema,
    PolicyStateSchema,
    PolicyVersionSchema,
    PolicyVersionSummarySchema,
    RevokedSchema,
    RevokeTokensSchema,
    RollbackSchema,
    VersionCreatedSchema,
    VersionCreateSchema,
)
from ...signin.schemas import ConsentSchema, WithdrawSchema
from ..services import services
from .audit import AuditQuerySchema
from .auth import admin_blueprint
from .clients import ClientCreateSchema, RevokeSchema
from .evidence import (
    AgreementSchema,
    CitizenshipAttestationSchema,
    DomainChallengeSchema,
    LeiCheckSchema,
)
from .organizations import (
    DecisionSchema,
    LifecycleActionSchema,
    LowerTrustSchema,
    OrganizationCreateSchema,
    TierGrantSchema,
    TrustRequestCreateSchema,
)

blueprint = admin_blueprint("admin_openapi", __name__)

#: (method, path, summary, request schema, status, response schema, list?)
OPERATIONS: list[tuple[str, str, str, Any, int, Any, bool]] = [
    ("get", "/admin/organizations", "List organizations", None, 200, OrganizationSchema, True),
    ("post", "/admin/organizations", "Apply, or onboard a verified organization",
     OrganizationCreateSchema, 201, OrganizationSchema, False),
    ("get", "/admin/organizations/{org_id}", "Show an organization", None, 200,
     OrganizationSchema, False),
    ("get", "/admin/organizations/{org_id}/history", "Lifecycle and trust history", None, 200,
     OrganizationChangeSchema, True),
    ("post", "/admin/organizations/{org_id}/{action}",
     "Lifecycle move: review, verify, suspend, reinstate or revoke", LifecycleActionSchema,
     200, OrganizationSchema, False),
    ("post", "/admin/organizations/{org_id}/trust-requests",
     "Request a higher trust level (a second admin approves)", TrustRequestCreateSchema, 201,
     TrustRequestSchema, False),
    ("post", "/admin/organizations/{org_id}/lower-trust",
     "Lower the trust level (one admin; the organization's live tokens are revoked)",
     LowerTrustSchema, 200, OrganizationSchema, False),
    ("post", "/admin/organizations/{org_id}/tiers", "Grant a tier", TierGrantSchema, 201,
     OrganizationSchema, False),
    ("delete", "/admin/organizations/{org_id}/tiers/{tier}", "Take a tier away", None, 200,
     OrganizationSchema, False),
    ("get", "/admin/organizations/{org_id}/evidence", "List an organization's evidence", None,
     200, EvidenceSchema, True),
    ("post", "/admin/organizations/{org_id}/evidence/domain",
     "Issue a DNS TXT domain-control challenge", DomainChallengeSchema, 201, EvidenceSchema,
     False),
    ("post", "/admin/evidence/{evidence_id}/check", "Check a domain challenge's TXT record",
     None, 200, EvidenceSchema, False),
    ("post", "/admin/organizations/{org_id}/evidence/lei",
     "Check an LEI (check digits, then the GLEIF registry)", LeiCheckSchema, 201,
     EvidenceSchema, False),
    ("post", "/admin/organizations/{org_id}/evidence/citizenship",
     "Record the organization's attestation that all its users are citizens",
     CitizenshipAttestationSchema, 201, EvidenceSchema, False),
    ("post", "/admin/organizations/{org_id}/evidence/agreement",
     "Record the signed partner agreement", AgreementSchema, 201, EvidenceSchema, False),
    ("post", "/admin/organizations/{org_id}/persons", "Create a person of an organization",
     PersonCreateSchema, 201, PersonSchema, False),
    ("get", "/admin/organizations/{org_id}/persons", "List an organization's persons", None,
     200, PersonSchema, True),
    ("get", "/admin/persons/{person_id}", "Show a person", None, 200, PersonSchema, False),
    ("post", "/admin/attestation-issuers", "Register an attestation issuer and its limits",
     AttestationIssuerCreateSchema, 201, AttestationIssuerSchema, False),
    ("get", "/admin/attestation-issuers", "List attestation issuers", None, 200,
     AttestationIssuerSchema, True),
    ("get", "/admin/attestation-issuers/{issuer_id}", "Show an attestation issuer", None, 200,
     AttestationIssuerSchema, False),
    ("post", "/admin/attestation-issuers/{issuer_id}/{action}",
     "Suspend or reinstate an issuer (its verifications stop counting at once)",
     IssuerStatusSchema, 200, AttestationIssuerSchema, False),
    ("post", "/admin/organizations/{org_id}/identity-providers",
     "Register an organization's identity provider (for token exchange)",
     IdentityProviderCreateSchema, 201, IdentityProviderSchema, False),
    ("get", "/admin/organizations/{org_id}/identity-providers",
     "List an organization's identity providers", None, 200, IdentityProviderSchema, True),
    ("get", "/admin/identity-providers/{idp_id}", "Show an identity provider", None, 200,
     IdentityProviderSchema, False),
    ("post", "/admin/identity-providers/{idp_id}/{action}",
     "Suspend or reinstate an identity provider (its ID tokens stop being exchanged at once)",
     IdentityProviderStatusSchema, 200, IdentityProviderSchema, False),
    ("put", "/admin/identity-providers/{idp_id}/sign-in",
     "Let the organization's people sign in through this provider (our client there; the "
     "secret is sealed and never shown)", SignInSchema, 200, IdentityProviderSchema, False),
    ("get", "/admin/consents", "List consents persons have given clients", None, 200,
     ConsentSchema, True),
    ("post", "/admin/consents/{consent_id}/withdraw", "Withdraw a consent", WithdrawSchema, 200,
     ConsentSchema, False),
    ("get", "/admin/policy", "The active and latest policy versions, and recent activations",
     None, 200, PolicyStateSchema, False),
    ("get", "/admin/policy/versions", "List policy versions", None, 200,
     PolicyVersionSummarySchema, True),
    ("get", "/admin/policy/versions/{number}", "Show a policy version with its diff", None, 200,
     PolicyVersionSchema, False),
    ("post", "/admin/policy/versions",
     "Create a version (whole document or merge patch against the latest; 409 if stale), "
     "optionally activating it now or at a time", VersionCreateSchema, 201,
     VersionCreatedSchema, False),
    ("post", "/admin/policy/versions/{number}/activate",
     "Activate a version now or at a time; with revoke_disallowed, re-impose it and revoke the "
     "live tokens it no longer allows", ActivateSchema, 201, ActivationSchema, False),
    ("post", "/admin/policy/versions/{number}/dry-run",
     "Which organizations and persons would gain or lose which tiers", DryRunSchema, 200,
     FreeFormSchema, False),
    ("post", "/admin/policy/rollback",
     "Reactivate an earlier version's policy now (as a new version, a copy of it)",
     RollbackSchema, 201, VersionCreatedSchema, False),
    ("post", "/admin/policy/activations/{activation_id}/cancel",
     "Cancel a scheduled activation", CancelSchema, 200, ActivationSchema, False),
    ("post", "/admin/policy/explain",
     "May this organization, client or person use this model or these tiers now; why not; "
     "the fallback", ExplainSchema, 200, FreeFormSchema, False),
    ("post", "/admin/tokens/revoke",
     "Revoke every live token of an organization, client, person or tier", RevokeTokensSchema,
     200, RevokedSchema, False),
    ("get", "/admin/trust-requests", "List trust requests", None, 200, TrustRequestSchema, True),
    ("post", "/admin/trust-requests/{request_id}/approve",
     "Approve another admin's request (two-person rule)", DecisionSchema, 200,
     OrganizationSchema, False),
    ("post", "/admin/trust-requests/{request_id}/reject", "Reject a trust request",
     DecisionSchema, 200, TrustRequestSchema, False),
    ("get", "/admin/clients", "List clients", None, 200, ClientSchema, True),
    ("post", "/admin/clients", "Register a client (the secret is shown once)",
     ClientCreateSchema, 201, ClientRegistrationSchema, False),
    ("get", "/admin/clients/{client_id}", "Show a client", None, 200, ClientSchema, False),
    ("post", "/admin/clients/{client_id}/revoke", "Revoke a client", RevokeSchema, 200,
     ClientSchema, False),
    ("post", "/admin/clients/{client_id}/secret", "Rotate a client's secret (shown once)",
     None, 200, ClientRegistrationSchema, False),
    ("get", "/admin/audit", "Read the audit log, newest first", None, 200, AuditEventSchema,
     True),
    ("get", "/admin/audit/verify", "Check every hash chain", None, 200, ChainReportSchema,
     False),
]


@blueprint.get("/openapi.json")
def openapi() -> Response:
    return jsonify(build_spec(services().settings.issuer))


def build_spec(issuer: str) -> dict[str, Any]:
    spec = APISpec(title="entitlements admin API", version=__version__, openapi_version="3.1.0",
                   plugins=[MarshmallowPlugin()], servers=[{"url": issuer}])
    spec.components.security_scheme("adminKey", {"type": "http", "scheme": "bearer",
                                                 "description": "an admin API key (eak_...)"})
    spec.components.response("Problem", {
        "description": "An RFC 9457 problem", "content": {"application/problem+json": {
            "schema": {"type": "object", "properties": {
                "type": {"type": "string"}, "title": {"type": "string"},
                "status": {"type": "integer"}, "detail": {"type": "string"}}}}}})
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, body, status, response, many in OPERATIONS:
        paths.setdefault(path, {})[method] = _operation(summary, body, status, response, many,
                                                        path, method)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


#: What any operation can answer: a malformed request, no valid admin key, a body over the
#: limit, throttling, the database out of reach.
COMMON_ERRORS = (400, 401, 413, 429, 503)
#: Operations that read and change nothing that can conflict (every other write can 409).
NEVER_CONFLICT = frozenset({"/admin/policy/versions/{number}/dry-run", "/admin/policy/explain",
                            "/admin/tokens/revoke"})
#: The two-person rule: the admin who asked may not approve.
FORBIDDEN = frozenset({"/admin/trust-requests/{request_id}/approve"})


def error_statuses(method: str, path: str, has_body: bool) -> list[int]:
    """Every error status the operation can answer."""
    statuses = set(COMMON_ERRORS)
    if has_body:
        statuses.add(415)  # not application/json
    if _path_names(path) or method != "get":
        statuses.add(404)  # an unknown id in the path or the body
    if method != "get" and path not in NEVER_CONFLICT:
        statuses.add(409)
    if path in FORBIDDEN:
        statuses.add(403)
    return sorted(statuses)


def _operation(summary: str, body: Any, status: int, response: Any, many: bool,
               path: str, method: str) -> dict[str, Any]:
    schema: Any = {"type": "array", "items": response} if many else response
    operation: dict[str, Any] = {
        "summary": summary,
        "security": [{"adminKey": []}],
        "parameters": [{"in": "path", "name": name, "required": True,
                        "schema": {"type": "string"}}
                       for name in _path_names(path)],
        "responses": {str(status): {"description": "OK", "content": {
            "application/json": {"schema": schema}}},
            **{str(code): {"$ref": "#/components/responses/Problem"}
               for code in error_statuses(method, path, body is not None)}},
    }
    if body is not None:
        operation["requestBody"] = {"required": True,
                                    "content": {"application/json": {"schema": body}}}
    if path == "/admin/audit":
        operation["parameters"] = [{"in": "query", "schema": AuditQuerySchema}]
    return operation


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]
