#!/usr/bin/env bash
# run.sh MODULE...: the browser tier's unittest modules with the venv's
# Python (tests/browser/install-tools.sh made it; a skip or no test fails).
set -Eeuo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="$("$REPO_ROOT/tests/browser/install-tools.sh" --print | sed -n 's/^PYTHON=//p')"
exec "$PYTHON" "$REPO_ROOT/tests/support/py/run_unittests.py" "$@"
