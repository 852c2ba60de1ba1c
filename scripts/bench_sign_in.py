#!/usr/bin/env python3
"""Sign-in benchmark: how long a person already signed in (session and consent on file)
waits from the authorization request to the app's tokens, and what a refresh costs against
a client-credentials token, the two measured interleaved in the same run.

Starts `entitlements serve` (2 workers) on PostgreSQL and the stand-in organization
provider (scripts/dev_upstream.py) on loopback, signs one person in through the pages,
then for --seconds each: authorize (302 with a code) and redeem the code; and alternately
refresh (rotating) and get a client-credentials token. Prints p50 and p99 of each, and
the refresh's cost as a ratio of the client-credentials token's.

    ./scripts/bench_sign_in.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import logging
import re
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from _service import Service, temporary_service
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from dev_upstream import UpstreamProvider

from entitlements.base.clock import SystemClock

BENCH_DB = "entitlements_bench_sign_in"
APP = "https://app.bench.example/callback"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, create_s256_code_challenge(verifier)


def setup(service: Service, upstream: UpstreamProvider) -> tuple[str, dict, dict]:
    """The organization, its provider for sign-in, a web app and a backend client."""
    cc_id, cc_secret = service.partner("Bench Partner")
    org_id = service.cli_json("clients", "show", cc_id)["organization_id"]
    idp = service.cli_json("idps", "register", org_id, upstream.issuer, "--audience", "x",
                           "--jwks-uri", upstream.issuer + "/jwks")
    ours = upstream.register_client(service.url + "/signin/callback")
    with tempfile.NamedTemporaryFile("w", suffix=".secret") as secret:
        secret.write(ours.client_secret)
        secret.flush()
        service.cli("idps", "sign-in", idp["id"], "--client-id", ours.client_id,
                    "--client-secret-file", secret.name)
    app = service.cli_json("clients", "create", "--org", org_id, "--grant-type",
                           "authorization_code", "--grant-type", "refresh_token",
                           "--redirect-uri", APP)
    return org_id, app, {"client_id": cc_id, "client_secret": cc_secret}


def authorize(browser: requests.Session, base: str, app: dict, challenge: str) -> str:
    return go(browser, base, "get", base + "/oauth/authorize", params={
        "response_type": "code", "client_id": app["client_id"], "redirect_uri": APP,
        "scope": "openid tier:public", "state": "s", "nonce": secrets.token_hex(8),
        "code_challenge": challenge, "code_challenge_method": "S256"})


def go(browser: requests.Session, base: str, method: str, url: str, **options: object) -> str:
    """One hop: where the answer redirects, made absolute."""
    answer = browser.request(method, url, allow_redirects=False, timeout=10, **options)
    return urljoin(base, answer.headers["Location"])


def sign_in_once(browser: requests.Session, base: str, app: dict, org_id: str) -> str:
    """Through the picker, the provider and the consent page: the first code."""
    picker = authorize(browser, base, app, pkce()[1])
    page = browser.get(picker, timeout=10).text
    upstream = go(browser, base, "post", picker, data={
        "csrf_token": CSRF.search(page).group(1), "by": "organization",
        "organization_id": org_id})
    callback = go(browser, base, "get", upstream)
    consent = go(browser, base, "get", callback)
    form = browser.get(consent, timeout=10).text
    return go(browser, base, "post", consent, data={
        "csrf_token": CSRF.search(form).group(1), "decision": "allow", "remember": "yes"})


def token(base: str, client: dict, **form: str) -> dict:
    answer = requests.post(base + "/oauth/token", data=form, timeout=10,
                           auth=(client["client_id"], client["client_secret"]))
    answer.raise_for_status()
    return answer.json()


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def summary(name: str, samples: list[float]) -> str:
    p99 = statistics.quantiles(samples, n=100)[98] if len(samples) >= 100 else max(samples)
    return (f"{name:38} n={len(samples):5d}  p50 {statistics.median(samples):6.2f} ms"
            f"  p99 {p99:6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the stand-in provider's log
    with temporary_service(BENCH_DB) as service, UpstreamProvider(SystemClock()) as upstream:
        org_id, app, backend = setup(service, upstream)
        with service.serving(workers=2) as base:
            browser = requests.Session()
            sign_in_once(browser, base, app, org_id)

            def signed_in_person() -> None:
                verifier, challenge = pkce()
                back = authorize(browser, base, app, challenge)
                code = parse_qs(urlsplit(back).query)["code"][0]
                tokens = token(base, app, grant_type="authorization_code", code=code,
                               redirect_uri=APP, code_verifier=verifier)
                assert "id_token" in tokens and "refresh_token" in tokens

            flow, deadline = [], time.monotonic() + args.seconds
            while time.monotonic() < deadline:
                flow.append(timed(signed_in_person))
            held = {"refresh_token": ""}
            verifier, challenge = pkce()
            code = parse_qs(urlsplit(authorize(browser, base, app, challenge)).query)["code"][0]
            held["refresh_token"] = token(base, app, grant_type="authorization_code", code=code,
                                          redirect_uri=APP, code_verifier=verifier)[
                "refresh_token"]

            def refresh() -> None:
                held["refresh_token"] = token(base, app, grant_type="refresh_token",
                                              refresh_token=held["refresh_token"])[
                    "refresh_token"]

            def client_credentials() -> None:
                token(base, backend, grant_type="client_credentials", scope="tier:public")

            refreshes, backend_tokens = [], []
            deadline = time.monotonic() + args.seconds
            while time.monotonic() < deadline:  # interleaved: the same load for both
                refreshes.append(timed(refresh))
                backend_tokens.append(timed(client_credentials))
    print(f"bench_sign_in: entitlements serve --workers 2, PostgreSQL, one client at a time, "
          f"{args.seconds:.0f} s per measurement")
    print(summary("signed-in person: authorize -> tokens", flow))
    print(summary("refresh (rotating, decided again)", refreshes))
    print(summary("client_credentials token (baseline)", backend_tokens))
    ratio = statistics.median(refreshes) / statistics.median(backend_tokens)
    print(f"refresh costs {ratio:.2f}x a client-credentials token (p50, same run)")


if __name__ == "__main__":
    main()
