"""Every mapped model, imported once so ``Base.metadata`` is complete (Alembic, tests)."""

from .admin.models import AdminKey
from .attestations.models import AttestationIssuer, AttestationNonce, VerifiedAttestation
from .audit.models import AuditEvent, AuditStream
from .clients.models import OAuthClient
from .db import Base
from .identity_providers.models import IdentityProvider, UsedSubjectToken
from .oauth.models import IssuedToken, UsedAssertion
from .organizations.models import Evidence, Organization, OrganizationChange, TrustRequest
from .persons.models import Person
from .policy.models import PolicyActivation, PolicyVersion
from .resources.models import ResourceServer
from .signing.models import SigningKey
from .token_status.models import StatusListRecord

__all__ = [
    "AdminKey",
    "AttestationIssuer",
    "AttestationNonce",
    "AuditEvent",
    "AuditStream",
    "Base",
    "Evidence",
    "IdentityProvider",
    "IssuedToken",
    "OAuthClient",
    "Organization",
    "OrganizationChange",
    "Person",
    "PolicyActivation",
    "PolicyVersion",
    "ResourceServer",
    "SigningKey",
    "StatusListRecord",
    "TrustRequest",
    "UsedAssertion",
    "UsedSubjectToken",
    "VerifiedAttestation",
]
