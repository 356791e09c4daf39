#!/usr/bin/env bash
# install-tools.sh: the browser tier's venv, cached under the local state
# folder: Playwright for Python from PyPI (its driver only: the browser is
# Debian's /usr/bin/chromium, which deploy/local/fte-local installs), on
# Debian's Python with its packages visible (python3-twilio and friends, for
# the provider simulators). Exits non-zero with the reason when it cannot.
#
#   tests/browser/install-tools.sh            install what is missing
#   tests/browser/install-tools.sh --print    also print PYTHON=...
set -Eeuo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE_DIR="$(realpath -m "${FTE_LOCAL_DIR:-$REPO_ROOT/.fte-local}")"
PLAYWRIGHT_VERSION="${FTE_PLAYWRIGHT_VERSION:-1.65.3}"
VENV="$STATE_DIR/venv-browser"
STAMP="$VENV/.playwright-$PLAYWRIGHT_VERSION"
CHROMIUM="${FTE_CHROMIUM:-/usr/bin/chromium}"

say() { printf 'browser-tools: %s\n' "$*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

[[ -x "$CHROMIUM" ]] || fail "no $CHROMIUM (apt-get install chromium; deploy/local/fte-local installs it)"
if [[ ! -f "$STAMP" ]]; then
  say "making $VENV with playwright==$PLAYWRIGHT_VERSION from PyPI"
  rm -rf "$VENV"
  /usr/bin/python3 -m venv --system-site-packages "$VENV" || fail "python3 -m venv failed (python3-venv)"
  "$VENV/bin/pip" install -q --disable-pip-version-check "playwright==$PLAYWRIGHT_VERSION" \
    || fail "pip install playwright==$PLAYWRIGHT_VERSION failed"
  touch "$STAMP"
fi
"$VENV/bin/python" -c 'import playwright' || fail "playwright does not import from $VENV"
say "playwright $PLAYWRIGHT_VERSION in $VENV, browser $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
if [[ "${1:-}" == --print ]]; then printf 'PYTHON=%s\n' "$VENV/bin/python"; fi
