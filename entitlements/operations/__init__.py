"""The operations admins perform, each with its consequences: one place that composes the
domains, shared by the admin API, the CLI and (later) the console.

Domain services change their own rows; the cascades live here. Suspending or revoking an
organization, lowering its trust, revoking a client, suspending an attestation issuer or an
identity provider, and re-imposing a policy revoke the live tokens that rested on what changed,
in the same transaction, so gateways (which read only the tokens and the status lists) stop
honouring them within seconds.
"""
