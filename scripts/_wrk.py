"""wrk, the HTTP load generator the benchmarks drive servers with: install it, write its
request scripts, parse its output."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import sys
from pathlib import Path

FORM = "application/x-www-form-urlencoded"
#: A client_credentials token request for the public tier.
TOKEN_BODY = "grant_type=client_credentials&scope=tier%3Apublic"


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk (apt-get install wrk)", file=sys.stderr)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True,
                   stdout=subprocess.DEVNULL)
    return shutil.which("wrk") or sys.exit("wrk is not available")


def parse_wrk(output: str) -> dict:
    def latency(pct: str) -> float:
        match = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    requests_total = int(re.search(r"(\d+) requests in", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": latency("50"),
        "p99": latency("99"),
        "requests": requests_total,
        "failed": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1) if errors else "none",
    }


def basic(client_id: str, secret: str) -> str:
    """The Authorization header of client_secret_basic."""
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def post_script(path: Path, *, body: str, authorization: str, content_type: str = FORM
                ) -> Path:
    """A wrk Lua script that POSTs ``body`` with these headers."""
    path.write_text(
        'wrk.method = "POST"\n'
        f'wrk.body = "{body}"\n'
        f'wrk.headers["Content-Type"] = "{content_type}"\n'
        f'wrk.headers["Authorization"] = "{authorization}"\n')
    return path


def token_script(folder: Path, client_id: str, secret: str) -> Path:
    """A wrk Lua script asking the service for client_credentials tokens."""
    return post_script(folder / "token.lua", body=TOKEN_BODY,
                       authorization=basic(client_id, secret))
