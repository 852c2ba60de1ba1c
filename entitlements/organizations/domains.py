"""Domain control: the organization publishes our random challenge as a DNS TXT record.

The record is ``_entitlements-challenge.<domain> TXT "entitlements-verification=<token>"``.
Lookups go through the small ``TxtResolver`` interface, so tests (and deployments
with their own resolver) replace dnspython without touching the logic here.
"""

from __future__ import annotations

import re
import secrets
from typing import Protocol

import dns.exception
import dns.resolver

from ..base.errors import InvalidInput, ProblemError
from ..base.secrets import same

RECORD_PREFIX = "_entitlements-challenge"
VALUE_PREFIX = "entitlements-verification="
DOMAIN = re.compile(r"^(?=.{1,253}$)(?!-)([a-z0-9-]{1,63}(?<!-)\.)+[a-z]{2,63}$")


class DnsUnavailable(ProblemError):
    """The resolver failed or timed out: retry later."""

    code = "dns_unavailable"
    status = 503
    title = "Upstream unavailable"


class TxtResolver(Protocol):
    def txt(self, name: str) -> list[str]:
        """Every TXT string at ``name``; [] when the name has none."""
        ...


class DnsPythonResolver:
    def __init__(self, timeout: float = 5.0) -> None:
        self._resolver = dns.resolver.Resolver()
        self._resolver.lifetime = timeout

    def txt(self, name: str) -> list[str]:
        try:
            answer = self._resolver.resolve(name, "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.DNSException as error:
            raise DnsUnavailable("the DNS lookup failed; retry later",
                                 detail=type(error).__name__) from None
        return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]


def normalize_domain(domain: str) -> str:
    candidate = domain.strip().lower().rstrip(".")
    if not DOMAIN.match(candidate):
        raise InvalidInput("a domain is a DNS name such as example.com", code="invalid_domain")
    return candidate


def new_challenge() -> str:
    return secrets.token_urlsafe(24)


def record_name(domain: str) -> str:
    return f"{RECORD_PREFIX}.{domain}"


def expected_value(challenge: str) -> str:
    return VALUE_PREFIX + challenge


def check_challenge(resolver: TxtResolver, domain: str, challenge: str) -> bool:
    """True when the challenge's TXT record is published at the domain."""
    wanted = expected_value(challenge)
    return any(same(value.strip(), wanted)
               for value in resolver.txt(record_name(domain)))
