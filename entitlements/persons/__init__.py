"""People acting for an organization, known by the organization's identity provider."""
