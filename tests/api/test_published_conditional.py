"""A gateway's poll with the ETag it holds gets its 304 without the document being built:
the answer (status, headers, body) is the one werkzeug's ``make_conditional`` gives for the
full document, for every mix of conditional headers, and the poll still counts as seen."""

from __future__ import annotations

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response

from entitlements.web.services import EXTENSION
from tests.support.markers import ONE_ADMIN

pytestmark = ONE_ADMIN

STALE = 'W/"0123456789abcdef0123456789abcdef"'
#: Conditional headers as gateways, caches and odd clients send them; ``{etag}`` is the
#: document's current ETag (``W/"..."``), ``{strong}`` the same without ``W/``.
CASES = [
    {"If-None-Match": "{etag}"},
    {"If-None-Match": "{strong}"},
    {"If-None-Match": '"other", {etag}'},
    {"If-None-Match": "*"},
    {"If-None-Match": STALE},
    {"If-None-Match": "{etag}", "If-Match": "{etag}"},
    {"If-None-Match": STALE, "If-Match": "*"},
    {"If-None-Match": "{etag}", "Range": "bytes=0-10"},
    {"If-None-Match": "{etag}", "If-Modified-Since": "Wed, 21 Oct 2015 07:28:00 GMT"},
    {"If-Modified-Since": "Wed, 21 Oct 2015 07:28:00 GMT"},
    {},
]
VOLATILE = {"Date", "X-Request-Id"}


@pytest.fixture
def documents(api, cast, client) -> dict[str, Response]:
    api.token(cast["A"])  # the first token opens status list 1
    return {path: client.get(path) for path in ("/policy", "/status-lists/1")}


def reference(document, method: str, path: str, headers: dict) -> tuple[int, dict, bytes]:
    """What ``make_conditional`` answers for the whole document."""
    full = Response(document.get_data(), mimetype=document.mimetype)
    full.set_etag(document.headers["ETag"][3:-1], weak=True)
    full.cache_control.no_cache = True
    environ = EnvironBuilder(path=path, method=method, headers=headers).get_environ()
    full.make_conditional(environ)
    body, status, answered = full.get_wsgi_response(environ)
    return int(status.split()[0]), _stable(answered), b"".join(body)


def _stable(headers) -> dict:
    return {name: value for name, value in headers if name not in VOLATILE}


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: ",".join(c) or "none")
def test_every_conditional_answer_is_make_conditionals(documents, client, method, case):
    for path, document in documents.items():
        etag = document.headers["ETag"]
        headers = {k: v.format(etag=etag, strong=etag[2:]) for k, v in case.items()}
        answer = client.open(path, method=method, headers=headers)
        expected = reference(document, method, path, headers)
        assert (answer.status_code, _stable(answer.headers.items()), answer.get_data()) == (
            expected), (path, headers)
        assert "Date" in answer.headers


def test_a_304_counts_as_the_document_seen(app, documents, client, clock):
    polls = app.extensions[EXTENSION].polls
    polls.clear()
    for path, document in documents.items():
        answer = client.get(path, headers={"If-None-Match": document.headers["ETag"]})
        assert answer.status_code == 304 and answer.get_data() == b""
    assert polls == {"policy": clock.now(), "status_lists": clock.now()}
