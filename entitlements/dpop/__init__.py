"""DPoP (RFC 9449) at this server: proofs checked at the token endpoint and userinfo, each
proof used once (in Redis when configured, in the database otherwise), and server nonces."""
