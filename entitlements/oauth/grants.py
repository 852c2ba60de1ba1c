"""Thin Authlib grants: they validate the request, then hand over to the issuance service."""

from __future__ import annotations

from typing import Protocol

from authlib.oauth2.rfc6749 import grants

from ..issuance.service import Entitlement, Issuance
from ..kernel.policy import Subject
from ..resources.directory import ResourceDirectory
from .client_record import ClientRecord
from .dpop import bound_key
from .scopes import choose_audience, choose_tiers
from .supported import AUTH_METHODS


class GrantServer(Protocol):
    """What the grants use of the authorization server."""

    issuance: Issuance
    resources: ResourceDirectory


def entitlement(server: GrantServer, client: ClientRecord, subject: Subject,
                audience: str, scope: str | None, jkt: str | None) -> Entitlement:
    """What the request may have: the tiers it asks for (or the client's defaults) among
    those the active policy grants ``subject``, for the gateway ``audience``, in a token
    bound to the DPoP key ``jkt`` (or a bearer token)."""
    policy, decision = server.issuance.decide(subject, jkt)
    tiers = choose_tiers(scope, entitled=decision.granted, denied=decision.denied,
                         known=policy.tiers, defaults=client.default_tiers)
    return Entitlement(policy, tiers, audience, jkt)


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        self.request.client = client
        audience = choose_audience(self.request.payload.datalist.get("resource", []),
                                   self.server.resources.snapshot())
        self.request.entitlement = entitlement(self.server, client, client.subject, audience,
                                               self.request.payload.scope,
                                               bound_key(client, self.request))

    def create_token_response(self) -> tuple[int, dict, list[tuple[str, str]]]:
        signed = self.server.issuance.issue_for_client(self.request.client,
                                                       self.request.entitlement)
        body = {
            "access_token": signed.token,
            "token_type": signed.token_type,
            "expires_in": signed.expires_in,
            "scope": signed.scope,
        }
        return 200, body, self.TOKEN_RESPONSE_HEADER
