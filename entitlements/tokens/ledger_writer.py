"""The statements that record a batch of issued tokens, each row checked against the
standing rule (``standing``) as it is written; the token ledger hands them to a stream writer
of the audit log (``audit.streams``), which commits them with their ``grant.issued`` events
in one transaction (one statement on PostgreSQL)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Executable, bindparam, insert

from .models import IssuedToken
from .standing import Shape, revoked_unless_standing, shape_of, standing_params

TOKEN_COLUMNS = ("jti", "client_id", "organization_id", "subject", "audience", "scope", "kid",
                 "issued_at", "expires_at", "policy_version", "status_list_id", "status_idx",
                 "cnf_jkt")


def token_batch(tokens: list[dict[str, Any]]) -> tuple[tuple[Executable, ...], dict[str, Any]]:
    """The statement inserting ``tokens`` (rows of ``TokenRecord``), and its parameters."""
    params: dict[str, Any] = {}
    for i, token in enumerate(tokens):
        params.update({f"t{i}_{c}": token[c] for c in TOKEN_COLUMNS})
        params.update(standing_params(f"t{i}_s_", token))
    return _insert(tuple(shape_of(token) for token in tokens)), params


@lru_cache(maxsize=256)
def _insert(shapes: tuple[Shape, ...]) -> tuple[Executable, ...]:
    """Built once per batch shape: only the bind parameters vary."""
    return (insert(IssuedToken).values([
        {**{c: bindparam(f"t{i}_{c}", type_=IssuedToken.__table__.c[c].type)
            for c in TOKEN_COLUMNS},
         "revoked_at": revoked_unless_standing(f"t{i}_s_", shape)}
        for i, shape in enumerate(shapes)]),)
