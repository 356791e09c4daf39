#!/usr/bin/env bash
# run.sh TEST...: the chart tier's ctest entry. Gets the tools (cached after
# the first run; install-tools.sh fails with the reason when it cannot) and
# runs the named unittest classes of test_chart.py with the venv's Python,
# which has kubernetes-validate, jsonschema and PyYAML.
set -Eeuo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools="$("$here/install-tools.sh" --print)" || exit 1
HELM="$(sed -n 's/^HELM=//p' <<<"$tools")"
PYTHON="$(sed -n 's/^PYTHON=//p' <<<"$tools")"
export FTE_HELM="$HELM"
cd "$here"
exec "$PYTHON" "$here/../support/py/run_unittests.py" "$@"
