"""The gateway SDK: validates entitlement tokens offline.

Depends only on the standard library, PyJWT and cryptography; never on Flask or
SQLAlchemy. The server imports its claim names from here, never the reverse.
"""
