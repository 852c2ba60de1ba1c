"""Verifying an entitlement token offline: the signature (cached JWKS, allowed algorithms
only), ``typ``, ``iss``, ``aud``, times, the required claims and the claims version. What a
verified token says is kept (bounded) until it expires, so the same token again costs a
dictionary lookup."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from ..kernel import claims as c
from ..kernel import dpop
from ..kernel.assurance import rank
from ..kernel.policy import Citizenship, Subject
from ..kernel.status_list import reference as status_reference
from .clock import Clock
from .jws import PublicKey, Reader, TokenRejected

_REQUIRED = frozenset(c.REQUIRED_CLAIMS)
_new = tuple.__new__
#: Claim shapes remembered per verifier (emptied when full); only signed tokens add one.
MAX_SHAPES = 256


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
        self._read = Reader(c.ACCESS_TOKEN_TYP).verified
        #: Claim shapes (names and their JSON types, in order) whose required claims and
        #: types have passed: the issuer writes every token in one of a few.
        self._shapes: set[tuple[tuple[str, ...], tuple[type, ...]]] = set()
        self._last_shape: tuple[Any, Any] = (None, None)  # no shape yet: matches none

    def verify(self, token: str) -> Verified:
        found = self._tokens.get(token)
        if found is not None and self._clock.time() < found.expires_at:
            return found
        checked = self._checked(self._read(token, self._keys)[1])
        tokens = self._tokens
        if len(tokens) >= self.cache_size:
            try:  # noqa: SIM105 - a with-statement costs more on this path
                tokens.popitem(last=False)  # the oldest, in O(1)
            except KeyError:  # another thread emptied it meanwhile
                pass
        tokens[token] = checked
        return checked

    def forget(self) -> None:
        """Keys changed: a withdrawn key must stop verifying at once."""
        self._tokens.clear()

    def _checked(self, claims: dict[str, Any]) -> Verified:
        """The checks, in this order: the required claims and every claim's JSON type
        (once per shape: names and types, in order), ``iss``, ``aud``, ``exp``, ``nbf``
        (else ``iat``), ``ent_ver``, ``cnf``, ``org`` and ``citizenship``, then the status
        list reference."""
        names, types = tuple(claims), tuple(map(type, claims.values()))
        last = self._last_shape
        if types != last[1] or names != last[0]:  # not the shape of the last token
            shape = (names, types)
            if shape not in self._shapes:
                _check_shape(claims)
                if len(self._shapes) >= MAX_SHAPES:
                    self._shapes.clear()
                self._shapes.add(shape)
            self._last_shape = shape  # one store: threads never see half of a shape
        tiers = claims[c.ENTITLEMENTS]
        for tier in tiers:
            if type(tier) is not str:
                raise TokenRejected("malformed", "entitlements must be tier names")
        audience = claims[c.AUDIENCE]
        if type(audience) is list and not all(type(a) is str for a in audience):
            raise TokenRejected("malformed", "aud must hold strings")
        if claims[c.ISSUER] != self.issuer:
            raise TokenRejected("wrong_issuer")
        if audience != self.audience and (type(audience) is not list
                                          or self.audience not in audience):
            raise TokenRejected("wrong_audience")
        now = self._clock.time()
        leeway = self.leeway
        exp = claims[c.EXPIRES_AT]
        if exp + leeway <= now:
            raise TokenRejected("expired")
        if claims.get(c.NOT_BEFORE, claims[c.ISSUED_AT]) - leeway > now:
            raise TokenRejected("not_yet_valid")
        if claims[c.CLAIMS_VERSION_CLAIM] != c.CLAIMS_VERSION:
            raise TokenRejected("unsupported_claims_version")
        cnf = claims.get(c.CONFIRMATION)  # a dict when present (its type is checked)
        jkt = None if cnf is None else cnf.get(dpop.THUMBPRINT)
        if cnf is not None and type(jkt) is not str:
            raise TokenRejected("malformed", "cnf must hold a jkt string")
        org = claims[c.ORGANIZATION]
        if "id" not in org or "trust" not in org:
            raise TokenRejected("missing_claims", "org needs id and trust")
        organization, trust = org["id"], org["trust"]
        if type(organization) is not str or type(trust) is not str:
            raise TokenRejected("malformed", "org's id and trust must be strings")
        sub = claims[c.SUBJECT]
        is_person = sub != claims[c.CLIENT_ID]
        held = claims.get(c.CITIZENSHIP) if is_person else org.get(c.CITIZENSHIP)
        # tuple.__new__ builds the named tuples without their __new__ in Python
        subject = _new(Subject, (organization, trust, is_person,
                                 _citizenship(held) if held else (), jkt is not None))
        status = None
        if c.STATUS in claims:
            try:
                uri, idx = status_reference(claims)  # type: ignore[misc]
            except ValueError:
                raise TokenRejected("malformed", "the status claim is invalid") from None
            uri = self._status_lists(uri)
            if uri is None:
                raise TokenRejected("untrusted_status_list")
            status = (uri, idx)
        return _new(Verified, (sub, exp + leeway, subject, tuple(tiers), status, jkt))


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


def _check_shape(claims: dict[str, Any]) -> None:
    """The required claims are present, and every claim ``_TYPES`` names has its type."""
    if not claims.keys() >= _REQUIRED:
        raise TokenRejected("missing_claims")
    for name, value in claims.items():
        types = _TYPES.get(name)
        if types is not None and type(value) not in types:
            raise TokenRejected("malformed", f"the {name} claim has the wrong type")


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
