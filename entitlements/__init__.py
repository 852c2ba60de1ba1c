"""Trusted-partner identity and entitlement service.

Importing this package imports nothing else: the gateway SDK lives inside it
(``entitlements.gateway``) and must stay free of Flask and SQLAlchemy.
"""

__version__ = "0.1.0"
