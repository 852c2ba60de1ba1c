"""Every mapped model, imported once so ``Base.metadata`` is complete (Alembic, tests)."""

from .admins.models import AdminKey
from .attestations.models import AttestationIssuer, AttestationNonce, VerifiedAttestation
from .audit.models import AuditEvent, AuditStream
from .base.db import Base
from .clients.models import OAuthClient, UsedAssertion
from .dpop.models import UsedDpopProof
from .identity_providers.models import IdentityProvider, UsedSubjectToken
from .organizations.models import Evidence, Organization, OrganizationChange, TrustRequest
from .persons.models import Person
from .policy.models import PolicyActivation, PolicyVersion
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
    "AdminKey",
    "AttestationIssuer",
    "AttestationNonce",
    "AuditEvent",
    "AuditStream",
    "AuthorizationCode",
    "AuthorizationRequest",
    "Base",
    "Consent",
    "DeviceAuthorization",
    "Evidence",
    "IdentityProvider",
    "IssuedToken",
    "OAuthClient",
    "Organization",
    "OrganizationChange",
    "Person",
    "PolicyActivation",
    "PolicyVersion",
    "PresentationRequest",
    "RefreshToken",
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
