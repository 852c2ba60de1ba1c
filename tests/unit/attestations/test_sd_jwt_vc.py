"""The SD-JWT VC citizenship-attestation verifier, against a real in-test issuer and holder
(the ``sd-jwt`` reference library), real keys, and real status lists served over HTTPS."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable, Iterator
from datetime import timedelta

import jwt
import pytest
import requests
import responses
import sd_jwt.holder
from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer

from entitlements.attestations.credential_status import CredentialStatus
from entitlements.attestations.sd_jwt_vc import presented_nonce, verify_sd_jwt_vc
from entitlements.attestations.verify import AttestationRefused, TrustedIssuer
from tests.support.attestations import (
    AUDIENCE,
    ISSUER,
    NONCE,
    NOW,
    REVOKED_IDX,
    SIGNING_KEY,
    STATUS_URI,
    STRANGER_KEY,
    SUSPENDED_IDX,
    VALID_IDX,
    keypair,
    status_claim,
    status_token,
    trusted_issuer,
    ts,
)

VCT = "https://verifier.example/credentials/citizenship"
HOLDER_KEY, _ = keypair("holder")
OTHER_HOLDER_KEY, _ = keypair("holder")




def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(autouse=True)
def _holder_signs_at_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """The library's holder stamps the key-binding JWT with ``time()``: freeze it at NOW."""
    monkeypatch.setattr(sd_jwt.holder, "time", lambda: NOW.timestamp())


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    """HTTPS as the status lists' servers answer it; anything unregistered fails to connect."""
    with responses.RequestsMock() as mock:
        yield mock


def trusted(**overrides) -> TrustedIssuer:
    return trusted_issuer({"sd-jwt-vc"}, **overrides)


def issue(*, key=SIGNING_KEY, alg: str = "ES256", header: dict | None = None,
          holder=HOLDER_KEY, disclosable: dict | None = None, **claims) -> str:
    """The issuer's SD-JWT with all its disclosures: ``disclosable`` claims are selectively
    disclosable, the others plain; a claim given as None is left out."""
    plain = {"iss": ISSUER, "sub": "person-77", "jti": "cred-1", "vct": VCT,
             "iat": ts(NOW) - 60, "exp": ts(NOW) + 3600,
             "verified_at": ts(NOW - timedelta(days=30)), "assurance_level": "high", **claims}
    if disclosable is None:
        disclosable = {"nationalities": ["US"], "given_name": "Alice"}
    user_claims = {**{k: v for k, v in plain.items() if v is not None},
                   **{SDObj(k): v for k, v in disclosable.items()}}
    issuer = SDJWTIssuer(
        user_claims, key if isinstance(key, JWK) else JWK.from_pyca(key),
        holder_key=JWK.from_pyca(holder) if holder is not None else None, sign_alg=alg,
        extra_header_parameters={"typ": "dc+sd-jwt", "kid": "verifier-1", **(header or {})})
    return issuer.sd_jwt_issuance


def present(issued: str | None = None, disclose: tuple[str, ...] = ("nationalities",)) -> str:
    """What the library's holder presents: the chosen disclosures and its key-binding JWT."""
    holder = SDJWTHolder(issued or issue())
    holder.create_presentation({name: True for name in disclose}, nonce=NONCE, aud=AUDIENCE,
                               holder_key=JWK.from_pyca(HOLDER_KEY), sign_alg="ES256")
    return holder.sd_jwt_presentation


def select(issued: str | None = None, disclose: tuple[str, ...] = ("nationalities",)) -> str:
    """The holder's chosen disclosures without key binding: ``<JWT>~<disclosure>~...~``."""
    holder = SDJWTHolder(issued or issue())
    holder.create_presentation({name: True for name in disclose})
    return holder.sd_jwt_presentation


def sd_hash(head: str) -> str:
    return b64(hashlib.sha256(head.encode()).digest())


def bind(head: str, *, key=HOLDER_KEY, algorithm: str = "ES256", headers: dict | None = None,
         **overrides) -> str:
    """``head`` with a key-binding JWT of our making appended; a claim given as None is left
    out (and a header given as None too)."""
    claims = {"nonce": NONCE, "aud": AUDIENCE, "iat": ts(NOW), "sd_hash": sd_hash(head),
              **overrides}
    claims = {k: v for k, v in claims.items() if v is not None}
    kb = jwt.encode(claims, key, algorithm=algorithm, headers={"typ": "kb+jwt", **(headers or {})})
    return head + kb


def disclosure(name: str, value, salt: str | None = None) -> str:
    return b64(json.dumps([salt or secrets.token_urlsafe(16), name, value]).encode())


def rework(head: str, change: Callable[[list[str]], list[str]]) -> str:
    """``head`` with its list of disclosures changed by the holder."""
    issuer_jwt, *disclosures, _ = head.split("~")
    return "~".join([issuer_jwt, *change(disclosures), ""])


def verify(presentation: str, issuer: TrustedIssuer | None = None, **kwargs):
    registry = {ISSUER: issuer or trusted()}
    options = {"issuers": registry.get, "audience": AUDIENCE, "nonce": NONCE, "now": NOW,
               **kwargs}
    return verify_sd_jwt_vc(presentation, **options)


def issuer_jwt_of(presentation: str) -> str:
    return presentation.split("~")[0]


def test_a_good_presentation_gives_only_the_verified_facts():
    presentation = present()
    facts = verify(presentation)
    assert (facts.issuer, facts.subject, facts.credential_id) == (ISSUER, "person-77", "cred-1")
    assert facts.nationalities == ("US",) and facts.assurance_level == "high"
    assert facts.verified_at == NOW - timedelta(days=30)
    assert facts.expires_at == NOW + timedelta(hours=1)
    assert facts.evidence_sha256 == hashlib.sha256(presentation.encode()).hexdigest()
    assert "Alice" not in repr(facts) and presentation not in repr(facts)
    assert presented_nonce(presentation) == NONCE


def test_a_key_binding_jwt_made_with_pyjwt_verifies_like_the_librarys():
    facts = verify(bind(select(issue(disclosable={"nationalities": ["CA", "US", "CA"]}))))
    assert facts.nationalities == ("CA", "US")


def test_the_facts_expire_with_the_issuers_maximum_age_when_that_comes_first():
    max_age = timedelta(days=30, minutes=30)
    facts = verify(present(), trusted(max_age=max_age))
    assert facts.expires_at == facts.verified_at + max_age == NOW + timedelta(minutes=30)


def test_without_exp_the_facts_expire_with_the_maximum_age_counted_from_iat():
    facts = verify(present(issue(exp=None, verified_at=None)))
    assert facts.verified_at == NOW - timedelta(minutes=1)
    assert facts.expires_at == NOW - timedelta(minutes=1) + timedelta(days=365)


def test_without_jti_the_credential_id_is_the_sha256_of_the_signed_claims():
    presentation = present(issue(jti=None, sub=None))
    facts = verify(presentation)
    signed = jwt.decode(issuer_jwt_of(presentation), options={"verify_signature": False})
    expected = hashlib.sha256(json.dumps(signed, sort_keys=True).encode()).hexdigest()
    assert facts.credential_id == expected and facts.subject == ""


def test_the_earlier_vc_media_type_and_a_disclosable_level_are_accepted():
    issued = issue(header={"typ": "vc+sd-jwt"}, assurance_level=None,
                   disclosable={"nationalities": ["US"], "assurance_level": "substantial"})
    facts = verify(present(issued, disclose=("nationalities", "assurance_level")))
    assert facts.assurance_level == "substantial"


def test_a_valid_entry_in_the_status_list_passes(http):
    http.add(responses.GET, STATUS_URI, body=status_token(), content_type=STATUS_MEDIA_TYPE)
    facts = verify(present(issue(status=status_claim(VALID_IDX))), status=CredentialStatus())
    assert facts.nationalities == ("US",)
    assert len(http.calls) == 1


def _hs256_issuer_jwt() -> str:
    return present(issue(key=JWK.generate(kty="oct", size=256), alg="HS256"))


def _garbage_disclosure() -> str:
    return bind(rework(select(), lambda ds: [b64(b"{not json")]))


def _deeply_nested_disclosure() -> str:
    """Disclosures are not signed: anyone can send one nested past the parser's depth."""
    return bind(rework(select(), lambda ds: [*ds, b64(b"[" * 4000 + b"]" * 4000)]))


def _duplicated_disclosure() -> str:
    return bind(rework(select(), lambda ds: ds + ds))


def _disclosure_of_a_signed_claim() -> str:
    issued = issue(disclosable={"nationalities": ["US"], "assurance_level": "substantial"})
    return bind(select(issued, ("nationalities", "assurance_level")))


def _uncovered_disclosure() -> str:
    return bind(rework(select(), lambda ds: [*ds, disclosure("nationalities", ["CA"])]))


def _altered_disclosure() -> str:
    def swap(ds: list[str]) -> list[str]:
        salt, name, _ = json.loads(base64.urlsafe_b64decode(ds[0] + "=" * (-len(ds[0]) % 4)))
        return [disclosure(name, ["CA"], salt)]
    return bind(rework(select(), swap))


def _disclosure_dropped_after_binding() -> str:
    bound = bind(select())
    issuer_jwt, _, kb = bound.split("~")
    return f"{issuer_jwt}~{kb}"


def _issuer_jwt_only() -> str:
    return issuer_jwt_of(present())


def _private_cnf() -> str:
    private = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(HOLDER_KEY))
    return bind(select(issue(holder=None, cnf={"jwk": private})))


@pytest.mark.parametrize(("presentation", "issuer", "reason"), [
    pytest.param(lambda: "", None, "malformed", id="empty"),
    pytest.param(lambda: "garbage", None, "malformed", id="garbage"),
    pytest.param(lambda: "not.a.jwt~x~y", None, "malformed", id="garbage-with-tildes"),
    pytest.param(_issuer_jwt_only, None, "malformed", id="no-tilde"),
    pytest.param(lambda: present(issue(vct="x" * 17_000)), None, "malformed", id="oversize"),
    pytest.param(lambda: select(), None, "key_binding_missing", id="no-key-binding"),
    pytest.param(lambda: present(issue(header={"typ": "JWT"})), None, "wrong_type",
                 id="typ-jwt"),
    pytest.param(lambda: present(issue(header={"typ": "example+sd-jwt"})), None,
                 "wrong_type", id="typ-library-default"),
    pytest.param(lambda: present(issue(iss="https://unknown.example")), None,
                 "unknown_issuer", id="unknown-issuer"),
    pytest.param(lambda: present(), trusted(active=False), "issuer_suspended",
                 id="suspended-issuer"),
    pytest.param(lambda: present(), trusted(formats=frozenset({"jwt"})), "format_not_allowed",
                 id="format-not-allowed"),
    pytest.param(_hs256_issuer_jwt, None, "algorithm_not_allowed", id="hs256-issuer-jwt"),
    pytest.param(lambda: present(issue(header={"kid": "other"})), None, "unknown_key",
                 id="unknown-kid"),
    pytest.param(lambda: present(issue(key=STRANGER_KEY)), None, "bad_signature",
                 id="forged-signature"),
    pytest.param(lambda: present(issue(vct=None)), None, "missing_claim", id="no-vct"),
    pytest.param(lambda: bind(select(issue(holder=None))), None, "missing_claim",
                 id="no-cnf"),
    pytest.param(lambda: present(disclose=()), None, "missing_claim",
                 id="nationalities-not-disclosed"),
    pytest.param(_garbage_disclosure, None, "bad_disclosure", id="garbage-disclosure"),
    pytest.param(_deeply_nested_disclosure, None, "bad_disclosure",
                 id="deeply-nested-disclosure"),
    pytest.param(_duplicated_disclosure, None, "bad_disclosure", id="duplicated-disclosure"),
    pytest.param(_disclosure_of_a_signed_claim, None, "bad_disclosure",
                 id="disclosure-overrides-a-signed-claim"),
    pytest.param(_uncovered_disclosure, None, "bad_disclosure", id="uncovered-disclosure"),
    pytest.param(_altered_disclosure, None, "bad_disclosure", id="altered-disclosure"),
    pytest.param(lambda: present(issue(exp=None, disclosable={
        "nationalities": ["US"], "exp": ts(NOW) - 60}), disclose=("nationalities", "exp")),
        None, "bad_disclosure", id="exp-made-disclosable"),
    pytest.param(lambda: present(issue(exp=None, disclosable={
        "nationalities": ["US"], "status": {"status_list": {"idx": 1, "uri": "https://x"}}}),
        disclose=("nationalities", "status")), None, "bad_disclosure",
        id="status-made-disclosable"),
    pytest.param(_private_cnf, None, "malformed", id="cnf-holds-a-private-key"),
    pytest.param(lambda: bind(select(), key=OTHER_HOLDER_KEY), None, "key_binding_invalid",
                 id="kb-signed-by-another-holder"),
    pytest.param(lambda: bind(select(), headers={"typ": "JWT"}), None, "key_binding_invalid",
                 id="kb-typ-jwt"),
    pytest.param(lambda: bind(select(), headers={"typ": None}), None, "key_binding_invalid",
                 id="kb-without-typ"),
    pytest.param(lambda: bind(select(), sd_hash=None), None, "key_binding_invalid",
                 id="kb-without-sd-hash"),
    pytest.param(lambda: bind(select(), key=b"k" * 32, algorithm="HS256"), None,
                 "algorithm_not_allowed", id="kb-hs256"),
    pytest.param(lambda: bind(select(), aud="https://someone-else.example"), None,
                 "wrong_audience", id="kb-wrong-audience"),
    pytest.param(lambda: bind(select(), nonce="reused-or-foreign"), None, "nonce_mismatch",
                 id="kb-wrong-nonce"),
    pytest.param(lambda: bind(select(), iat=ts(NOW - timedelta(minutes=10))), None,
                 "key_binding_stale", id="kb-ten-minutes-old"),
    pytest.param(lambda: bind(select(), iat=ts(NOW + timedelta(minutes=10))), None,
                 "key_binding_stale", id="kb-from-the-future"),
    pytest.param(lambda: bind(select(), sd_hash=sd_hash(select(disclose=()))), None,
                 "sd_hash_mismatch", id="kb-over-other-disclosures"),
    pytest.param(_disclosure_dropped_after_binding, None, "sd_hash_mismatch",
                 id="disclosure-dropped-after-binding"),
    pytest.param(lambda: present(issue(exp=ts(NOW - timedelta(minutes=5)))), None,
                 "expired", id="expired"),
    pytest.param(lambda: present(issue(iat=ts(NOW + timedelta(hours=1)))), None,
                 "not_yet_valid", id="issued-in-the-future"),
    pytest.param(lambda: present(), trusted(max_age=timedelta(days=7)), "too_old",
                 id="verification-too-old"),
    pytest.param(lambda: present(issue(disclosable={"nationalities": ["FR"]})), None,
                 "nationality_not_allowed", id="nationality-not-allowed"),
    pytest.param(lambda: present(issue(disclosable={"nationalities": ["usa"]})), None,
                 "malformed", id="nationality-not-iso"),
    pytest.param(lambda: present(issue(assurance_level="low")), None, "level_not_allowed",
                 id="level-not-allowed"),
    pytest.param(lambda: present(issue(exp="tomorrow")), None, "malformed",
                 id="exp-not-a-number"),
    pytest.param(lambda: present(issue(status={"status_list": {"idx": -1, "uri": STATUS_URI}})),
                 None, "malformed", id="status-negative-index"),
])
def test_every_refusal_has_its_reason(presentation, issuer, reason):
    with pytest.raises(AttestationRefused) as refused:
        verify(presentation(), issuer)
    assert refused.value.reason == reason
    assert refused.value.message and '"' not in refused.value.message


# -- credential status ---------------------------------------------------------------------

STATUS_MEDIA_TYPE = "application/statuslist+jwt"


def _serve(**kwargs) -> Callable[[responses.RequestsMock], None]:
    def add(http: responses.RequestsMock) -> None:
        options = {"body": status_token(), "content_type": STATUS_MEDIA_TYPE, **kwargs}
        http.add(responses.GET, STATUS_URI, **options)
    return add


def _serve_nothing(http: responses.RequestsMock) -> None:
    return None


@pytest.mark.parametrize(("serve", "status", "reason"), [
    pytest.param(_serve(), status_claim(REVOKED_IDX), "credential_revoked", id="revoked"),
    pytest.param(_serve(), status_claim(SUSPENDED_IDX), "credential_suspended",
                 id="suspended"),
    pytest.param(_serve(status=500), status_claim(VALID_IDX), "status_unavailable",
                 id="list-server-error"),
    pytest.param(_serve(body=requests.exceptions.ReadTimeout("timed out")),
                 status_claim(VALID_IDX), "status_unavailable", id="list-timeout"),
    pytest.param(_serve(body=requests.exceptions.ConnectionError("refused")),
                 status_claim(VALID_IDX), "status_unavailable", id="list-unreachable"),
    pytest.param(_serve_nothing, status_claim(VALID_IDX, "http://verifier.example/lists/1"),
                 "malformed", id="list-not-https"),
    pytest.param(_serve(body=status_token(key=STRANGER_KEY)), status_claim(VALID_IDX),
                 "status_unavailable", id="list-signed-by-a-stranger"),
    pytest.param(_serve(body=status_token(kid="other")), status_claim(VALID_IDX),
                 "status_unavailable", id="list-signed-with-an-unregistered-kid"),
    pytest.param(_serve(body=status_token(expires_at=ts(NOW) - 1)), status_claim(VALID_IDX),
                 "status_unavailable", id="list-expired"),
    pytest.param(_serve(), status_claim(16), "malformed", id="index-outside-the-list"),
])
def test_the_status_list_is_honoured_and_fails_closed(http, serve, status, reason):
    serve(http)
    with pytest.raises(AttestationRefused) as refused:
        verify(present(issue(status=status)), status=CredentialStatus())
    assert refused.value.reason == reason
    assert refused.value.message and '"' not in refused.value.message


def test_a_status_claim_is_refused_where_no_status_check_is_configured():
    with pytest.raises(AttestationRefused) as refused:
        verify(present(issue(status=status_claim(VALID_IDX))))
    assert refused.value.reason == "status_unavailable"
