"""The gateway SDK: validates entitlement tokens offline and decides allow / fallback / deny.

Depends on the shared kernel (``entitlements.kernel``), the standard library, PyJWT (to read
JWKs) and cryptography; never on Flask or SQLAlchemy. A gateway installs it alone.

- ``gateway``: ``Gateway``, its caches and lifecycle
- ``decisions``: the answer of ``Gateway.decide`` (allow, fallback or deny, with a reason)
- ``tokens``: token verification and claim checks
- ``documents``: the JWKS, the policy snapshot and the status lists, kept fresh
- ``poller``: the background refresh thread
- ``jws``, ``http``, ``clock``: signatures, conditional GETs, injected time
- ``integrations``, ``authz``: WSGI/ASGI/Flask wrappers and the HTTP authorization service
- ``httpd``: the authorization service's HTTP/1.1 server
"""
