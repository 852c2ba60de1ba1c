"""DPoP at the token endpoint (RFC 9449 5): the errors it answers, and which key, if any,
a grant's tokens are bound to."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error

from ..kernel import dpop
from ..kernel.dpop import ProofRefused
from .errors import _Reasoned


class InvalidDpopProof(_Reasoned):
    """RFC 9449 5: the proof is missing where required, or invalid."""

    error = "invalid_dpop_proof"


class UseDpopNonce(_Reasoned):
    """RFC 9449 8: the proof must carry the nonce this answer's ``DPoP-Nonce`` hands out."""

    error = "use_dpop_nonce"

    def __init__(self, reason: str, description: str, nonce: str) -> None:
        super().__init__(reason, description)
        self.nonce = nonce

    def get_headers(self) -> list[tuple[str, str]]:
        return [*super().get_headers(), (dpop.NONCE_HEADER, self.nonce)]


def proof_error(refused: ProofRefused, nonce: str | None) -> _Reasoned:
    """A refused proof as the OAuth error the token endpoint answers."""
    description = refused.message[0].upper() + refused.message[1:] + "."
    if refused.reason in dpop.NONCE_REASONS and nonce is not None:
        return UseDpopNonce(refused.reason, description, nonce)
    return InvalidDpopProof(refused.reason, description)


def bound_key(client: Any, request: Any) -> str | None:
    """The thumbprint of the key this request's tokens are bound to: its proof's. A client
    registered with ``dpop_bound_access_tokens`` must send one (RFC 9449 5.2)."""
    proof: dpop.Proof | None = getattr(request, "dpop", None)
    if proof is None and client.dpop_bound_access_tokens:
        raise proof_error(ProofRefused("dpop_proof_required"), None)
    return proof.jkt if proof is not None else None


def refresh_key(client: Any, request: Any, bound_to: str | None) -> str | None:
    """As ``bound_key``; and a grant bound to a key (a public client's refresh token, a
    code requested with ``dpop_jkt``) is redeemed only with a proof by that key."""
    jkt = bound_key(client, request)
    if bound_to is not None and jkt is None:
        raise proof_error(ProofRefused("dpop_proof_required", "the grant is bound to a DPoP "
                                       "key: send a proof signed with it"), None)
    if bound_to is not None and jkt != bound_to:
        raise proof_error(ProofRefused("dpop_key_mismatch", "the proof is signed by another "
                                       "key than the grant is bound to"), None)
    return jkt


class DpopChallenge(OAuth2Error):
    """A resource of this server (userinfo) refusing a DPoP-bound token's request: 401 with
    a ``WWW-Authenticate: DPoP`` challenge (RFC 9449 7.1), and a nonce when one is due."""

    status_code = 401

    def __init__(self, refused: ProofRefused, nonce: str | None) -> None:
        wants_nonce = refused.reason in dpop.NONCE_REASONS and nonce is not None
        self.error = ("use_dpop_nonce" if wants_nonce else "invalid_token"
                      if refused.reason == "dpop_bound_token_as_bearer" else "invalid_dpop_proof")
        super().__init__(description=refused.message)
        self.reason, self.nonce = refused.reason, nonce if wants_nonce else None

    def get_body(self) -> list[tuple[str, str]]:
        return [*super().get_body(), ("reason", self.reason)]

    def get_headers(self) -> list[tuple[str, str]]:
        headers = [*super().get_headers(),
                   ("WWW-Authenticate", dpop.challenge(dpop.ALGORITHMS, self.error))]
        return [*headers, (dpop.NONCE_HEADER, self.nonce)] if self.nonce else headers
