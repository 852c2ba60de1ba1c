"""The ``entitlements`` admin command (``root``); it needs the server's dependencies, the
``server`` extra. A gateway that installed the SDK alone is told so in one line."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from .root import main as command
    except ModuleNotFoundError as missing:
        print(f"entitlements: error: the server is not installed ({missing.name} is missing): "
              "pip install 'entitlements[server]'; the SDK's authorization service runs as "
              "python -m entitlements.gateway.authz", file=sys.stderr)
        sys.exit(1)
    command(prog_name="entitlements")
