"""Long work (bulk revocation, report exports, rebuilds at a time, imports) run in the
background with its progress stored, so a page can show it live and any process can
answer for it."""
