"""Issuing entitlement tokens: what a token says (``minting``) and the service the OAuth
grants call to decide, sign and record one (``service``)."""
