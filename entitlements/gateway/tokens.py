"""Verifying an entitlement token offline: the signature (cached JWKS, allowed algorithms
only), ``typ``, ``iss``, ``aud``, times, the required claims and the claims version. What a
verified token says is kept (bounded) until it expires, so the same token again costs a
dictionary lookup."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any, NamedTuple

from ..kernel import claims as c
from ..kernel import dpop
from ..kernel.assurance import rank
from ..kernel.policy import Citizenship, Subject
from ..kernel.status_list import reference
from .clock import Clock
from .jws import PublicKey, TokenRejected, verified

_REQUIRED = frozenset(c.REQUIRED_CLAIMS)


class Verified(NamedTuple):
    """What the checks keep of a token: plain values only, so a cache of thousands holds no
    dicts for the garbage collector to walk."""

    sub: str
    expires_at: float
    subject: Subject
    tiers: tuple[str, ...]
    status: tuple[str, int] | None
    #: The DPoP key a bound token names (``cnf.jkt``); None for a bearer token.
    jkt: str | None = None


class TokenVerifier:
    def __init__(self, issuer: str, audience: str, *, keys: Callable[[Any], PublicKey | None],
                 status_lists: Callable[[str], str | None], clock: Clock, leeway: float,
                 cache_size: int) -> None:
        """``keys(kid)`` finds a published key; ``status_lists(uri)`` is one of the issuer's
        status lists the URI names, exactly (normalized), or None."""
        self.issuer, self.audience = issuer, audience
        self._keys, self._status_lists, self._clock = keys, status_lists, clock
        self.leeway, self.cache_size = leeway, cache_size
        self._tokens: OrderedDict[str, Verified] = OrderedDict()

    def verify(self, token: str) -> Verified:
        found = self._tokens.get(token)
        if found is not None and self._clock.time() < found.expires_at:
            return found
        _, claims = verified(token, self._keys, c.ACCESS_TOKEN_TYP)
        checked = self._checked(claims)
        if len(self._tokens) >= self.cache_size:
            with suppress(KeyError):  # another thread may have emptied it meanwhile
                self._tokens.popitem(last=False)  # the oldest, in O(1)
        self._tokens[token] = checked
        return checked

    def forget(self) -> None:
        """Keys changed: a withdrawn key must stop verifying at once."""
        self._tokens.clear()

    def _checked(self, claims: dict[str, Any]) -> Verified:
        if not claims.keys() >= _REQUIRED:
            raise TokenRejected("missing_claims")
        _check_types(claims)
        if claims[c.ISSUER] != self.issuer:
            raise TokenRejected("wrong_issuer")
        audience = claims[c.AUDIENCE]
        if audience != self.audience and not (isinstance(audience, list)
                                              and self.audience in audience):
            raise TokenRejected("wrong_audience")
        now = self._clock.time()
        exp, nbf = claims[c.EXPIRES_AT], claims.get(c.NOT_BEFORE, claims[c.ISSUED_AT])
        if exp + self.leeway <= now:
            raise TokenRejected("expired")
        if nbf - self.leeway > now:
            raise TokenRejected("not_yet_valid")
        if claims[c.CLAIMS_VERSION_CLAIM] != c.CLAIMS_VERSION:
            raise TokenRejected("unsupported_claims_version")
        jkt = dpop.bound_thumbprint(claims)
        if c.CONFIRMATION in claims and jkt is None:
            raise TokenRejected("malformed", "cnf must hold a jkt string")
        return Verified(claims[c.SUBJECT], exp + self.leeway, _subject(claims, jkt is not None),
                        tuple(claims[c.ENTITLEMENTS]), self._status_ref(claims), jkt)

    def _status_ref(self, claims: dict[str, Any]) -> tuple[str, int] | None:
        try:
            ref = reference(claims)
        except ValueError:
            raise TokenRejected("malformed", "the status claim is invalid") from None
        if ref is None:
            return None
        uri = self._status_lists(ref[0])
        if uri is None:
            raise TokenRejected("untrusted_status_list")
        return uri, ref[1]


#: The JSON type every claim must have, when present: a claim of another type is a clean
#: ``malformed`` deny, never an exception out of ``decide``. Exact types: a JSON parser
#: makes no subclasses, and ``bool`` (an ``int`` subclass) or null is never a number.
_STRING = frozenset({str})
_NUMBER_TYPES = frozenset({int, float})
_TYPES: dict[str, frozenset[type]] = {
    c.ISSUER: _STRING, c.SUBJECT: _STRING, c.AUDIENCE: frozenset({str, list}),
    c.JWT_ID: _STRING, c.CLIENT_ID: _STRING, c.EXPIRES_AT: _NUMBER_TYPES,
    c.ISSUED_AT: _NUMBER_TYPES, c.NOT_BEFORE: _NUMBER_TYPES,
    c.ENTITLEMENTS: frozenset({list}), c.ORGANIZATION: frozenset({dict}),
    c.CLAIMS_VERSION_CLAIM: frozenset({int}), c.ACTOR: frozenset({dict}),
    c.CITIZENSHIP: frozenset({list}), c.POLICY_VERSION: frozenset({int}), c.SCOPE: _STRING,
    c.STATUS: frozenset({dict}), c.CONFIRMATION: frozenset({dict}),
}


def _check_types(claims: dict[str, Any]) -> None:
    for name, value in claims.items():
        types = _TYPES.get(name)
        if types is not None and type(value) not in types:
            raise TokenRejected("malformed", f"the {name} claim has the wrong type")
    if not all(isinstance(tier, str) for tier in claims[c.ENTITLEMENTS]):
        raise TokenRejected("malformed", "entitlements must be tier names")
    audience = claims[c.AUDIENCE]
    if isinstance(audience, list) and not all(isinstance(a, str) for a in audience):
        raise TokenRejected("malformed", "aud must hold strings")


def _subject(claims: dict[str, Any], dpop_bound: bool) -> Subject:
    org = claims[c.ORGANIZATION]
    if "id" not in org or "trust" not in org:
        raise TokenRejected("missing_claims", "org needs id and trust")
    if not isinstance(org["id"], str) or not isinstance(org["trust"], str):
        raise TokenRejected("malformed", "org's id and trust must be strings")
    is_person = claims[c.SUBJECT] != claims[c.CLIENT_ID]
    held = claims.get(c.CITIZENSHIP) if is_person else org.get(c.CITIZENSHIP)
    return Subject(org["id"], org["trust"], is_person, _citizenship(held) if held else (),
                   dpop_bound)


def _citizenship(entries: Any) -> tuple[Citizenship, ...]:
    try:
        held = tuple(Citizenship(e[c.NATIONALITY], rank(e[c.ASSURANCE_LEVEL]),
                                 datetime.fromtimestamp(e[c.EXPIRES_AT], UTC))
                     for e in entries)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        raise TokenRejected("malformed", "the citizenship claim is invalid") from None
    if not all(isinstance(x.nationality, str) for x in held):
        raise TokenRejected("malformed", "nationalities must be strings")
    return held
