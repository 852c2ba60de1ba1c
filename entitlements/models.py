"""Every mapped model, imported once so ``Base.metadata`` is complete (Alembic, tests)."""

from .admin.models import AdminKey
from .audit.models import AuditEvent, AuditStream
from .clients.models import OAuthClient
from .db import Base
from .oauth.models import IssuedToken, UsedAssertion
from .organizations.models import Evidence, Organization, OrganizationChange, TrustRequest
from .policy.models import OrganizationTier, Tier
from .resources.models import ResourceServer
from .signing.models import SigningKey

__all__ = [
    "AdminKey",
    "AuditEvent",
    "AuditStream",
    "Base",
    "Evidence",
    "IssuedToken",
    "OAuthClient",
    "Organization",
    "OrganizationChange",
    "OrganizationTier",
    "ResourceServer",
    "SigningKey",
    "Tier",
    "TrustRequest",
    "UsedAssertion",
]
