"""Every mapped model, imported once so ``Base.metadata`` is complete (Alembic, tests)."""

from .admins.models import Admin, AdminKey, ConsoleSession, LoginLink
from .attestations.models import AttestationIssuer, AttestationNonce, VerifiedAttestation
from .audit.models import AuditCheckpoint, AuditEvent, AuditStream
from .base.db import Base
from .clients.models import OAuthClient, UsedAssertion
from .dpop.models import UsedDpopProof
from .identity_providers.models import IdentityProvider, UsedSubjectToken
from .jobs.models import Job
from .notices.models import Notice
from .organizations.models import Evidence, Organization, OrganizationChange, TrustRequest
from .persons.models import Person
from .policy.models import BreakGlass, PolicyActivation, PolicyChangeRequest, PolicyVersion
from .reports.models import AbuseReport, ReportExport
from .resources.models import ResourceServer
from .signin.models import (
    AuthorizationCode,
    AuthorizationRequest,
    Consent,
    DeviceAuthorization,
    PresentationRequest,
    RefreshToken,
    SignInSession,
)
from .signing.models import SigningKey
from .tokens.models import IssuedToken, StatusListRecord

__all__ = [
    "AbuseReport",
    "Admin",
    "AdminKey",
    "AttestationIssuer",
    "AttestationNonce",
    "AuditCheckpoint",
    "AuditEvent",
    "AuditStream",
    "AuthorizationCode",
    "AuthorizationRequest",
    "Base",
    "BreakGlass",
    "Consent",
    "ConsoleSession",
    "DeviceAuthorization",
    "Evidence",
    "IdentityProvider",
    "IssuedToken",
    "Job",
    "LoginLink",
    "Notice",
    "OAuthClient",
    "Organization",
    "OrganizationChange",
    "Person",
    "PolicyActivation",
    "PolicyChangeRequest",
    "PolicyVersion",
    "PresentationRequest",
    "RefreshToken",
    "ReportExport",
    "ResourceServer",
    "SignInSession",
    "SigningKey",
    "StatusListRecord",
    "TrustRequest",
    "UsedAssertion",
    "UsedDpopProof",
    "UsedSubjectToken",
    "VerifiedAttestation",
]
