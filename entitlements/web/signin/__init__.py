"""People's sign-in in a browser: the authorization endpoint, the organization picker,
the answer of the organization's provider, and the consent page (server-rendered)."""
