"""Pure rules for the ``scope`` and ``resource`` parameters of a token request."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from authlib.oauth2.rfc6749 import InvalidScopeError

from ..kernel.claims import TIER_SCOPE_PREFIX, tier_scope
from ..resources.directory import Resources
from .errors import InvalidTargetError, echo

MAX_SCOPES = 50


def choose_tiers(
    requested: str | None,
    *,
    entitled: Sequence[str],
    defaults: Sequence[str] | None,
    known: Collection[str],
    denied: Mapping[str, str] | None = None,
) -> tuple[str, ...]:
    """The tiers to grant: the requested subset, or the client's defaults when none is asked.

    RFC 6749 section 3.3: the server may fully or partially ignore a requested scope;
    we refuse instead, so a client never silently gets less than it asked for.
    """
    if requested is None or not requested.strip():
        chosen = [t for t in (defaults if defaults is not None else entitled) if t in entitled]
        if not chosen:
            raise InvalidScopeError("The client's organization is not entitled to any tier.")
        return tuple(sorted(set(chosen)))
    names = requested.split()
    if len(names) > MAX_SCOPES:
        raise InvalidScopeError(f"At most {MAX_SCOPES} scopes may be requested.")
    tiers = []
    for name in names:
        if not name.startswith(TIER_SCOPE_PREFIX):
            raise InvalidScopeError(
                f"Unknown scope '{echo(name)}'; scopes look like 'tier:public'."
            )
        tier = name[len(TIER_SCOPE_PREFIX):]
        if tier not in known:
            raise InvalidScopeError(f"Unknown tier '{echo(tier)}'.")
        if tier not in entitled:
            why = (denied or {}).get(tier)
            raise InvalidScopeError(f"The organization is not entitled to '{tier_scope(tier)}'"
                                    + (f" ({why})." if why else "."))
        tiers.append(tier)
    return tuple(sorted(set(tiers)))


def choose_audience(requested: Sequence[str], registered: Resources) -> str:
    """RFC 8707: ``resource`` names a registered gateway; without it, the default one."""
    if len(requested) > 1:
        raise InvalidTargetError("Only one 'resource' may be requested per token.")
    if not requested:
        if registered.default is None:
            raise InvalidTargetError("No 'resource' was given and no default gateway is set.")
        return registered.default
    if requested[0] not in registered.identifiers:
        raise InvalidTargetError(f"Unknown resource '{echo(requested[0])}'.")
    return requested[0]
