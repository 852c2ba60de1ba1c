# Sourced by scripts/run and scripts/test: create .venv and install the project when needed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The checkout this file really lives in: a copy of the tree made of links (the docs
# walkthroughs run in one) shares its .venv, and must not reinstall it as its own.
SOURCE="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
VENV="$SOURCE/.venv"
STAMP="$VENV/.installed"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "creating $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ "$SOURCE/pyproject.toml" -nt "$STAMP" ]; then
  echo "installing entitlements and its dependencies into $VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --upgrade pip 2>&1 | grep -v '^WARNING: Location' >&2 || true
  "$VENV/bin/python" -m pip install --quiet -e "$SOURCE[server,s3,test]" 2>&1 | grep -v '^WARNING: Location' >&2 || true
  "$VENV/bin/python" -c "import entitlements.app, pytest, responses, requests_oauthlib, boto3, moto" \
    || { echo "installation failed" >&2; exit 1; }
  touch "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
