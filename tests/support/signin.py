"""A person's browser, driven by hand through the sign-in pages (no JavaScript is needed):
each redirect is followed one at a time, so tests see every hop."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge

APP_REDIRECT = "https://app.acme.example/callback"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, create_s256_code_challenge(verifier)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@dataclass
class Step:
    response: requests.Response

    @property
    def location(self) -> str:
        return self.response.headers["Location"]

    @property
    def csrf(self) -> str:
        found = CSRF.search(self.response.text)
        assert found, "the page has no form"
        return found.group(1)


class Browser:
    def __init__(self, service: str) -> None:
        self.service = service
        self.http = requests.Session()

    def get(self, url: str) -> Step:
        absolute = url if url.startswith("http") else self.service + url
        return Step(self.http.get(absolute, allow_redirects=False, timeout=10))

    def post(self, url: str, form: dict[str, str]) -> Step:
        absolute = url if url.startswith("http") else self.service + url
        return Step(self.http.post(absolute, data=form, allow_redirects=False, timeout=10))

    def authorize(self, **params: str) -> Step:
        return self.get("/oauth/authorize?" + urlencode(params))

    def sign_in(self, picker_url: str, email: str) -> Step:
        """Pick the organization by e-mail, sign in upstream, come back: the step after."""
        page = self.get(picker_url)
        assert page.response.status_code == 200, page.response.text
        upstream = self.post(picker_url, {"csrf_token": page.csrf, "by": "email",
                                          "email": email})
        assert upstream.response.status_code == 302, upstream.response.text
        back = self.get(upstream.location)  # the organization's provider answers at once
        assert back.response.status_code == 302, back.response.text
        return self.get(back.location)  # our callback

    def consent(self, consent_url: str, decision: str = "allow", remember: bool = True
                ) -> Step:
        page = self.get(consent_url)
        assert page.response.status_code == 200, page.response.text
        form = {"csrf_token": page.csrf, "decision": decision}
        if remember:
            form["remember"] = "yes"
        return self.post(consent_url, form)


def code_for(issuer: str, client_id: str, scope: str = "openid tier:public",
             **params: str) -> tuple[str, str]:
    """Alice of Acme signs in for ``client_id`` and consents: (the code, its PKCE
    verifier). ``params`` go into the authorization request."""
    browser = Browser(issuer)
    verifier, challenge = pkce()
    picker = browser.authorize(response_type="code", client_id=client_id,
                               redirect_uri=APP_REDIRECT, scope=scope,
                               code_challenge=challenge, code_challenge_method="S256",
                               **params)
    consent = browser.sign_in(picker.location, "alice@acme.example")
    return query(browser.consent(consent.location).location)["code"], verifier
