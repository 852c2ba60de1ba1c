"""The gateway's JSON reader: orjson when installed, the standard library otherwise, with the
same answers, and the SDK deciding alike without orjson."""

from __future__ import annotations

import subprocess
import sys

import pytest

from entitlements.kernel import jsonload

DOCUMENTS = [b'{"a": 1, "b": [true, null, 2.5], "c": {"d": "\\u00e9"}}', b"[]", b'"x"',
             b'{"a": 1, "a": 2}', b"18446744073709551615", b"18446744073709551616",
             b"-9223372036854775809", b"1" * 300, b"1e300", b"-0.0"]
REFUSED = [b"NaN", b'{"a": Infinity}', b'{"a": -Infinity}', b"\xff\xfe{}", b"{", b"",
           b'{"a": 1,}', b"\x00", b"1e400", b"1" * 400]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_both_readers_agree(document):
    assert jsonload.loads(document) == jsonload._standard(document)


@pytest.mark.parametrize("document", REFUSED)
def test_both_readers_refuse(document):
    for reader in (jsonload.loads, jsonload._standard):
        with pytest.raises(ValueError):
            reader(document)


def test_orjson_is_used_where_installed():
    assert jsonload.FAST


def test_without_orjson_the_standard_library_reads_tokens():
    code = ("import sys; sys.modules['orjson'] = None\n"
            "from entitlements.kernel import jsonload, dpop\n"
            "assert not jsonload.FAST\n"
            "from entitlements.gateway import jws\n"
            "try:\n"
            "    jws.split('eyJhbGciOiJFUzI1NiJ9.TmFO.AAAA')\n"
            "except jws.TokenRejected as e:\n"
            "    print(e.reason)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "malformed"
