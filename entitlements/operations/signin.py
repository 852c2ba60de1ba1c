"""The browser steps of a person's sign-in, above the domains they touch: the home
organization and its provider, the provider's answer (the person found or created, a
sign-in session opened), what the consent page shows, and the code the consent yields.

Each step is one transaction; the web layer renders what they return and the
``SignInRefused`` they raise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from ..attestations import service as attestations
from ..attestations.citizenship import MIN_TOKEN_LIFETIME, citizenship_summary
from ..attestations.service import Verifiers
from ..attestations.verify import AttestationRefused
from ..audit import service as audit
from ..audit import targets
from ..base.actor import Actor
from ..base.remote_jwks import RemoteJwks
from ..base.sealing import Sealer
from ..base.secrets import digest
from ..base.settings import Settings
from ..clients.models import OAuthClient
from ..identity_providers import exchange
from ..identity_providers import service as idps
from ..identity_providers.id_token import SubjectTokenRefused
from ..identity_providers.models import IdentityProvider
from ..kernel.claims import tier_scope, tiers_from_scope
from ..kernel.policy import Policy, decide
from ..organizations import service as organizations
from ..organizations.models import OrganizationStatus
from ..persons import service as persons
from ..policy.subjects import person_subject
from ..signin import (
    codes,
    consents,
    devices,
    home,
    presentations,
    requests,
    sessions,
    upstream,
)
from ..signin.errors import SignInRefused
from ..signin.models import AuthorizationRequest, SignInSession
from ..signin.sessions import UpstreamSignIn

CALLBACK_PATH = "/signin/callback"
#: Where wallets post their presentations (response_mode direct_post).
VP_RESPONSE_PATH = "/oauth/vp/response"
#: Denials a presented citizenship credential may lift.
CITIZENSHIP_REASONS = frozenset({"citizenship_not_verified"})
#: Refusals of the organization picker that the person fixes on the same page.
PICK_AGAIN = frozenset({"invalid_email", "unknown_domain", "no_sign_in"})
#: What the client learns of the person, as the consent page says.
SHARED = ("your identifier at this service (not your name or e-mail address)",
          "your organization and its trust level", "which tiers you may use",
          "your verified citizenship, if any: nationality and assurance level")


@dataclass(frozen=True)
class Context:
    """What the steps need of the running service, and the policy in force (read before
    a step's transaction: on SQLite a second session would wait for it)."""

    settings: Settings
    sealer: Sealer
    remote_jwks: RemoteJwks
    policy: Policy
    verifiers: Verifiers

    @property
    def vp_response_uri(self) -> str:
        return self.settings.issuer + VP_RESPONSE_PATH

    @property
    def vct_values(self) -> list[str]:
        return [v.strip() for v in self.settings.citizenship_vct.split(",") if v.strip()]

    @property
    def callback(self) -> str:
        return self.settings.issuer + CALLBACK_PATH


@dataclass(frozen=True)
class TierLine:
    """One tier on the consent page: granted, or why not and what the models fall back to."""

    tier: str
    granted: bool
    reason: str | None
    fallbacks: tuple[str, ...]


@dataclass(frozen=True)
class ConsentPage:
    client_name: str
    organization_name: str
    tiers: tuple[TierLine, ...]
    shares: tuple[str, ...]

    @property
    def granted_scope(self) -> str:
        return " ".join(tier_scope(t.tier) for t in self.tiers if t.granted)


def upstream_redirect(session: Session, context: Context, request: AuthorizationRequest, *,
                      email: str | None, organization_id: str | None) -> str:
    """Where to send the browser to sign in: the home organization's first provider."""
    org_id = home.by_email(session, email) if email else organization_id
    providers = idps.sign_in_providers(session, org_id) if org_id else []
    if not providers:
        raise SignInRefused("no_sign_in", "That organization has no sign-in here. Check the "
                                          "address, or pick your organization.")
    idp = providers[0]
    state, nonce, verifier = requests.send_upstream(request, idp.id)
    return upstream.authorization_url(idp, context.sealer, context.callback, state=state,
                                      nonce=nonce, verifier=verifier,
                                      prompt=request.params.get("prompt"))


def upstream_id_token(context: Context, idp: IdentityProvider, request: AuthorizationRequest,
                      code: str) -> str:
    """The provider's ID token for its ``code`` (a call to the provider: no transaction is
    held open meanwhile)."""
    return upstream.exchange_code(idp, context.sealer, context.callback, code=code,
                                  verifier=request.upstream_verifier or "")


def accept_upstream(session: Session, context: Context, request: AuthorizationRequest,
                    id_token: str, now: datetime) -> str:
    """Verify the provider's ID token, find or create the person, and open a sign-in
    session for this request; the session's cookie value."""
    idp = idps.get(session, request.identity_provider_id or "")
    leeway = timedelta(seconds=context.settings.clock_leeway)
    verified = upstream.verify(
        session, context.remote_jwks, idp, id_token, nonce=request.upstream_nonce or "",
        now=now, leeway=leeway,
        max_lifetime=timedelta(seconds=context.settings.id_token_max_lifetime))
    try:
        exchange.consume(session, verified, now)
    except SubjectTokenRefused as error:  # the same ID token twice
        raise SignInRefused("id_token_replayed", "This sign-in answer was used before.") \
            from error
    person = exchange.person_for(session, verified, request.client_id, now)
    amr = verified.claims.get("amr")
    acr = verified.claims.get("acr")
    token = sessions.open_session(session, UpstreamSignIn(
        person.id, idp.organization_id, idp.id, upstream.auth_time(verified, now),
        acr if isinstance(acr, str) else None,
        [str(m) for m in amr][:10] if isinstance(amr, list) else None), now)
    request.session_hash = digest(token)
    audit.record(session, Actor(f"person:{person.id}", now), "person.signed_in",
                 target=targets.person(person.id, person.organization_id),
                 details={"identity_provider_id": idp.id, "client_id": request.client_id,
                          "acr": acr if isinstance(acr, str) else None})
    return token


def signed_in(session: Session, request: AuthorizationRequest, cookie: str | None,
              now: datetime) -> SignInSession | None:
    """The sign-in session that may serve this request: fresh enough for its ``max_age``,
    not superseded by ``prompt=login``, of an organization still verified."""
    found = sessions.current(session, cookie, now)
    if found is None:
        return None
    if request.session_hash is None:  # signed in before this request arrived
        if request.params.get("prompt") == "login":
            return None
        max_age = request.params.get("max_age")
        if max_age is not None and (now - found.auth_time).total_seconds() > max_age:
            return None
    elif request.session_hash != digest(cookie or ""):
        return None
    org = organizations.get(session, found.organization_id)
    idp = session.get(IdentityProvider, found.identity_provider_id)
    if org.status != OrganizationStatus.VERIFIED or idp is None or idp.status != "active":
        return None  # whoever vouched for the sign-in no longer stands
    return found


def consent_page(session: Session, context: Context, request: AuthorizationRequest,
                 signed: SignInSession, now: datetime) -> ConsentPage:
    client = session.get(OAuthClient, request.client_id)
    org = organizations.get(session, signed.organization_id)
    policy = context.policy
    summary = citizenship_summary(session, signed.person_id, now, MIN_TOKEN_LIFETIME)
    decision = decide(policy, person_subject(org.id, org.trust_level, summary), None, now)
    requested = requested_tiers(request.params.get("scope", ""), client, policy)
    lines = tuple(TierLine(t, t in decision.granted, decision.denied.get(t),
                           () if t in decision.granted else _fallbacks(policy, t,
                                                                        decision.granted))
                  for t in requested)
    return ConsentPage(client.name if client else request.client_id, org.name, lines, SHARED)


def requested_tiers(scope: str, client: OAuthClient | None, policy: Policy) -> list[str]:
    """The tiers a request names, or the client's defaults (else every tier) when none."""
    named = tiers_from_scope(scope)
    if named:
        return sorted(set(named))
    defaults = client.default_tiers if client is not None else None
    return sorted(defaults if defaults is not None else policy.tiers)


def needs_consent(session: Session, request: AuthorizationRequest, signed: SignInSession,
                  page: ConsentPage) -> bool:
    if request.params.get("prompt") == "consent":
        return True
    return not consents.given(session, signed.person_id, request.client_id,
                              _consented_scope(request, page))


def approve(session: Session, request: AuthorizationRequest, signed: SignInSession,
            page: ConsentPage, now: datetime, *, remember: bool) -> str:
    """The code for the client: the request's parameters and the sign-in behind it."""
    scope = _consented_scope(request, page)
    if remember:
        consents.remember(session, Actor(f"person:{signed.person_id}", now), signed.person_id,
                          request.client_id, scope)
    params: dict[str, Any] = {
        **{k: request.params.get(k) for k in ("redirect_uri", "nonce", "code_challenge",
                                              "code_challenge_method", "resource",
                                              "dpop_jkt")},
        "scope": scope, "auth_time": int(signed.auth_time.timestamp()), "acr": signed.acr,
        "amr": signed.amr, "identity_provider_id": signed.identity_provider_id}
    code = codes.issue(session, client_id=request.client_id, person_id=signed.person_id,
                       params=params, now=now)
    requests.finish(session, request)
    return code


def _consented_scope(request: AuthorizationRequest, page: ConsentPage) -> str:
    openid = "openid" if "openid" in request.params.get("scope", "").split() else ""
    return consents.normalize(f"{openid} {page.granted_scope}")


def _fallbacks(policy: Policy, tier: str, granted: tuple[str, ...]) -> tuple[str, ...]:
    """For the models of a denied tier, the model each falls back to that is granted."""
    found = []
    for model in policy.models.values():
        if model.tier != tier or model.fallback is None:
            continue
        target = policy.models.get(model.fallback)
        if target is not None and target.tier in granted:
            found.append(f"{model.id} → {target.id}")
    return tuple(sorted(found))


def client_name(session: Session, client_id: str) -> str:
    client = session.get(OAuthClient, client_id)
    return client.name if client else client_id


def approve_device(session: Session, request: AuthorizationRequest, signed: SignInSession,
                   page: ConsentPage) -> None:
    """The person allowed the device: its poll now gets the tokens."""
    devices.decide(session, request.params["device_code_hash"], person_id=signed.person_id,
                   sign_in={"scope": _consented_scope(request, page),
                            "auth_time": int(signed.auth_time.timestamp()),
                            "acr": signed.acr, "amr": signed.amr,
                            "identity_provider_id": signed.identity_provider_id})
    requests.finish(session, request)


def deny_device(session: Session, request: AuthorizationRequest) -> None:
    devices.decide(session, request.params["device_code_hash"], person_id=None, sign_in=None)
    requests.finish(session, request)


def device_request(session: Session, user_code: str, browser: str | None, now: datetime
                   ) -> tuple[AuthorizationRequest, str]:
    """The person typed the device's code: a pending request for it, bound to this browser;
    consent is always asked (a device's code may come from someone else)."""
    device = devices.pending_by_user_code(session, user_code, now)
    params = {"scope": device.params.get("scope", ""), "resource": device.params.get("resource"),
              "device_code_hash": device.device_code_hash, "prompt": "consent",
              "redirect_uri": None, "state": None, "nonce": None, "max_age": None}
    return requests.start(session, client_id=device.client_id, params=params, browser=browser,
                          now=now)


def tiers_needing_citizenship(page: ConsentPage) -> list[str]:
    return [t.tier for t in page.tiers if not t.granted and t.reason in CITIZENSHIP_REASONS]


def needs_presentation(session: Session, request: AuthorizationRequest,
                       page: ConsentPage) -> bool:
    """Ask the wallet: a tier asked for needs citizenship, and the person has neither
    declined nor presented in this sign-in."""
    if request.params.get("vp_declined") or request.params.get("prompt") == "none":
        return False
    if not tiers_needing_citizenship(page):
        return False
    found = presentations.for_request(session, request.id)
    return found is None or found.status != "verified"


@dataclass(frozen=True)
class PresentationPage:
    wallet_uri: str
    problem: str | None
    verified: bool


def presentation_page(session: Session, context: Context, request: AuthorizationRequest,
                      now: datetime) -> PresentationPage:
    """The wallet request to show (a new one when there is none, or it expired or was
    refused), or ``verified`` once the wallet has answered."""
    found = presentations.for_request(session, request.id)
    if found is not None and found.status == "verified":
        return PresentationPage("", None, True)
    problem = found.reason if found is not None and found.status == "refused" else None
    if found is None or found.status != "pending" or found.expires_at <= now:
        state, nonce = presentations.start(session, request.id, now)
    else:
        state, nonce = found.state, found.nonce
    return PresentationPage(presentations.wallet_uri(
        response_uri=context.vp_response_uri, state=state, nonce=nonce,
        vct_values=context.vct_values), problem, False)


def decline_presentation(request: AuthorizationRequest) -> None:
    request.params = {**request.params, "vp_declined": True}


def accept_presentation(session: Session, context: Context, state: str | None,
                        vp_token: str | None, now: datetime) -> tuple[str, str | None]:
    """A wallet's answer: each presentation verified (audience and nonce of this request)
    and stored as the person's attestation; the pending request's id, and the refusal
    reason if any (the request is then refused, and nothing else is kept)."""
    row = presentations.answering(session, state, now)
    pending = session.get(AuthorizationRequest, row.request_id)
    signed = session.get(SignInSession, pending.session_hash) if (
        pending is not None and pending.session_hash) else None
    if pending is None or signed is None or signed.ended_at is not None:
        row.status, row.reason = "refused", "not_signed_in"
        return row.request_id, row.reason
    person = persons.get(session, signed.person_id)
    try:
        with session.begin_nested():
            for credential in presentations.presented(vp_token):
                attestations.record_presented(
                    session, person=person, credential=credential,
                    audience=presentations.client_id(context.vp_response_uri),
                    nonce=row.nonce, now=now, verifiers=context.verifiers,
                    vct_values=frozenset(context.vct_values))
    except AttestationRefused as refused:
        row.status, row.reason = "refused", refused.code
        return row.request_id, refused.code
    except SignInRefused as refused:
        row.status, row.reason = "refused", refused.reason
        return row.request_id, refused.reason
    row.status = "verified"
    return row.request_id, None
