"""Token status lists (IETF OAuth Token Status List): every token's revocation bit,
published for gateways to poll, and bulk revocation."""
