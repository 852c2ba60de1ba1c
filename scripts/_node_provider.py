#!/usr/bin/env python3
"""A Node.js OpenID provider on loopback, the outside yardstick for token issuance.

``bench_token`` compares our client_credentials issuance with panva's ``oidc-provider``,
measured in the same runs, which keeps tokens only in memory. This module installs it with
npm into a cache folder outside the repo (reused across runs), writes a small server program
of our own beside it, and runs it as ``workers`` processes under Node's ``cluster`` module,
like ``entitlements serve --workers 2``:

- client_credentials for one confidential client (client_secret_basic);
- resource indicators, so the access token is a JWT signed ES256 with an EC P-256 key of
  the provider's JWKS (made fresh at each start);
- the default in-memory adapter (oidc-provider does not store JWT access tokens at all:
  it writes nothing per token, which is the point of the comparison);
- NODE_ENV=production, no dev interactions, no logs (stderr is kept only to explain a
  failed start); oidc-provider has no rate limiting to switch off.

``node_provider()`` yields a ``NodeProvider`` once the token endpoint's server answers and
ends the whole process group on exit, exceptions included; the primary also exits when
our end of its stdin closes, so even a killed Python leaves no Node process behind.

    .venv/bin/python scripts/_node_provider.py   # self-check: one verified token, 2 s of wrk
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlencode

from _cpu import cpu_seconds
from _service import free_port, wait_for
from _wrk import basic, ensure_wrk, parse_wrk, post_script

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / (
    "entitlements-bench/node-oidc-provider")
PACKAGE, MAJOR = "oidc-provider", 9
MIN_NODE = 20
RESOURCE = "https://api.bench/"
SCOPE = "api:read"
CLIENT_ID = "bench-client"
START_SECONDS = 30

SERVER_JS = """\
// Written by scripts/_node_provider.py at run time: oidc-provider issuing ES256 JWT access
// tokens for client_credentials, in memory, one provider per cluster worker.
import cluster from 'node:cluster';
import { generateKeyPairSync } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';

const env = process.env;

function primary() {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-es256', alg: 'ES256' };
  const shared = { BENCH_JWK: JSON.stringify({ ...jwk, use: 'sig' }) };
  cluster.setupPrimary({ stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const workers = Array.from({ length: Number(env.BENCH_WORKERS) }, () => cluster.fork(shared));
  let listening = 0;
  cluster.on('listening', () => {
    listening += 1;
    if (listening === workers.length) {
      const pids = [process.pid, ...workers.map((worker) => worker.process.pid)];
      process.stdout.write(`${JSON.stringify({ pids })}\\n`);
    }
  });
  cluster.on('exit', () => process.exit(1));
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

function resourceServer(ctx, indicator) {
  if (indicator !== env.BENCH_RESOURCE) throw new errors.InvalidTarget();
  return {
    scope: env.BENCH_SCOPE,
    audience: env.BENCH_RESOURCE,
    accessTokenTTL: 600,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'ES256' } },
  };
}

function worker() {
  const provider = new Provider(env.BENCH_ISSUER, {
    clients: [{
      client_id: env.BENCH_CLIENT_ID,
      client_secret: env.BENCH_CLIENT_SECRET,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: env.BENCH_SCOPE,
    }],
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    jwks: { keys: [JSON.parse(env.BENCH_JWK)] },
    scopes: [env.BENCH_SCOPE],
    ttl: { ClientCredentials: 600 },
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => env.BENCH_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: resourceServer,
      },
    },
  });
  provider.silent = true;
  process.on('disconnect', () => process.exit(0));
  provider.listen(Number(env.BENCH_PORT), '127.0.0.1');
}

if (cluster.isPrimary) primary(); else worker();
"""


@dataclass
class NodeProvider:
    """The running provider: POST ``body`` to ``token_url`` with ``authorization``.

    ``pids`` are the cluster primary (it accepts connections and hands them round-robin to
    the workers) and the workers: every process whose CPU time the tokens cost.
    """

    token_url: str
    client_id: str
    client_secret: str
    pids: list[int]
    body: str

    @property
    def issuer(self) -> str:
        return self.token_url.rsplit("/", 1)[0]

    @property
    def authorization(self) -> str:
        """The Authorization header's value (client_secret_basic)."""
        return basic(self.client_id, self.client_secret)


def available() -> str | None:
    """None when node (and npm, unless oidc-provider is installed already) can be used."""
    node = shutil.which("node")
    if not node:
        return "node is not installed"
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout
    major = int(version.strip().lstrip("v").split(".")[0] or 0)
    if major < MIN_NODE:
        return f"node {version.strip()} is older than v{MIN_NODE}"
    if not _installed() and not shutil.which("npm"):
        return "npm is not installed (needed once to install oidc-provider)"
    return None


@contextmanager
def node_provider(workers: int = 2) -> Iterator[NodeProvider]:
    """oidc-provider with ``workers`` cluster workers on a free loopback port, until exit."""
    _ensure_installed()
    port = free_port()
    provider = NodeProvider(
        token_url=f"http://127.0.0.1:{port}/token", client_id=CLIENT_ID,
        client_secret=secrets.token_hex(24), pids=[],
        body=urlencode({"grant_type": "client_credentials", "scope": SCOPE,
                        "resource": RESOURCE}))
    with tempfile.TemporaryFile() as log, _spawned(provider, port, workers, log) as process:
        provider.pids = _ready_pids(process, log)
        wait_for(f"{provider.issuer}/.well-known/openid-configuration")
        yield provider


def token_script(provider: NodeProvider, folder: Path) -> Path:
    """A wrk Lua script that POSTs the provider's token request."""
    return post_script(folder / "node_token.lua", body=provider.body,
                       authorization=provider.authorization)


def _installed() -> bool:
    manifest = CACHE / "node_modules" / PACKAGE / "package.json"
    if not manifest.is_file():
        return False
    return json.loads(manifest.read_text())["version"].split(".")[0] == str(MAJOR)


def _ensure_installed() -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two runs at once install once
        if not _installed():
            _npm_install()
    server = CACHE / "server.mjs"
    if not server.is_file() or server.read_text() != SERVER_JS:
        server.write_text(SERVER_JS)


def _npm_install() -> None:
    print(f"installing {PACKAGE}@{MAJOR} with npm into {CACHE}", file=sys.stderr)
    (CACHE / "package.json").write_text(json.dumps(
        {"private": True, "dependencies": {PACKAGE: f"^{MAJOR}.0.0"}}, indent=2) + "\n")
    result = subprocess.run(
        ["npm", "install", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=CACHE, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"npm install {PACKAGE} failed: {result.stderr.strip()[-500:]}")


@contextmanager
def _spawned(provider: NodeProvider, port: int, workers: int, log: IO[bytes]
             ) -> Iterator[subprocess.Popen[bytes]]:
    env = {key: value for key, value in os.environ.items()
           if key not in {"DEBUG", "NODE_OPTIONS"}}
    env.update(NODE_ENV="production", BENCH_WORKERS=str(workers), BENCH_PORT=str(port),
               BENCH_ISSUER=provider.issuer, BENCH_CLIENT_ID=provider.client_id,
               BENCH_CLIENT_SECRET=provider.client_secret, BENCH_RESOURCE=RESOURCE,
               BENCH_SCOPE=SCOPE)
    process = subprocess.Popen(
        [shutil.which("node") or "node", str(CACHE / "server.mjs")], cwd=CACHE, env=env,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, start_new_session=True)
    try:
        yield process
    finally:
        _stop_group(process)


def _ready_pids(process: subprocess.Popen[bytes], log: IO[bytes]) -> list[int]:
    """The primary's line once every worker listens: its pid and the workers'."""
    assert process.stdout is not None
    readable, _, _ = select.select([process.stdout], [], [], START_SECONDS)
    line = process.stdout.readline() if readable else b""
    if not line:
        log.seek(0)
        tail = log.read().decode(errors="replace").strip()[-800:]
        raise RuntimeError(f"oidc-provider did not start within {START_SECONDS} s: {tail}")
    return json.loads(line)["pids"]


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the whole process group, SIGKILL to whatever is left after 10 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    if process.stdin:
        process.stdin.close()
    deadline = time.monotonic() + 10
    while _group_alive(process) and time.monotonic() < deadline:
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    if process.stdout:
        process.stdout.close()


def _group_alive(process: subprocess.Popen[bytes]) -> bool:
    process.poll()  # reap the primary, so only live members answer
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


def _check_token(provider: NodeProvider) -> dict:
    """One token request: 200, an ES256 JWT verified against the provider's JWKS."""
    import jwt
    import requests

    answer = requests.post(provider.token_url, data=provider.body, timeout=10, headers={
        "Authorization": provider.authorization,
        "Content-Type": "application/x-www-form-urlencoded"})
    if answer.status_code != 200:
        raise RuntimeError(f"token endpoint answered {answer.status_code}: {answer.text}")
    token = answer.json()["access_token"]
    header = jwt.get_unverified_header(token)
    if header["alg"] != "ES256":
        raise RuntimeError(f"access token signed {header['alg']}, not ES256")
    key = jwt.PyJWKClient(f"{provider.issuer}/jwks").get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["ES256"], audience=RESOURCE,
                      issuer=provider.issuer)


def _run_wrk(wrk: str, provider: NodeProvider, lua: Path, seconds: int, connections: int
             ) -> dict:
    argv = [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",
            "-s", str(lua), provider.token_url]
    return parse_wrk(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)


def main() -> None:
    reason = available()
    if reason:
        sys.exit(f"node provider unavailable: {reason}")
    wrk = ensure_wrk()
    started = time.monotonic()
    _ensure_installed()
    installed = time.monotonic()
    with node_provider() as provider, tempfile.TemporaryDirectory() as scratch:
        print(f"oidc-provider installed/checked in {installed - started:.1f} s, up in "
              f"{time.monotonic() - installed:.1f} s, pids {provider.pids}")
        claims = _check_token(provider)
        print(f"token verified: ES256, aud {claims['aud']}, scope {claims.get('scope')}")
        lua = token_script(provider, Path(scratch))
        _run_wrk(wrk, provider, lua, 1, 4)  # warm-up (V8's JIT)
        cpu = cpu_seconds(provider.pids)
        row = _run_wrk(wrk, provider, lua, 2, 16)
        cpu = cpu_seconds(provider.pids) - cpu
    ok = row["requests"] - row["failed"]
    print(f"oidc-provider 2 workers, wrk 16 connections 2 s: {row['rps']:.0f} tokens/s, "
          f"p50 {row['p50']:.2f} ms, p99 {row['p99']:.2f} ms, non-2xx {row['failed']}, "
          f"server CPU {1000 * cpu / max(ok, 1):.2f} ms/token")


if __name__ == "__main__":
    main()
