"""Partner organizations: status, trust level and tier grants."""
