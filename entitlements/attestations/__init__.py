"""Citizenship attestations and the registry of issuers whose statements we accept."""
