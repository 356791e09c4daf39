#!/usr/bin/env bash
# install-tools.sh: the chart tier's tools, built or installed by the project
# itself and cached under the local state folder, so that a second run is fast:
#
#   <state>/cache/go-<version>/     a Go toolchain from the Go module proxy
#                                    (golang.org/toolchain), fetched with
#                                    Debian's golang-1.19-go: helm needs a
#                                    newer Go than bookworm carries
#   <state>/cache/helm-<version>/helm  helm built from helm.sh/helm/v3 (the
#                                    module and build caches are removed after)
#   <state>/venv-chart/              kubernetes-validate (and with it
#                                    jsonschema and PyYAML) from PyPI
#
# Prints nothing but progress on stderr; exits non-zero with the reason when a
# tool cannot be had (the tier then fails: it never skips).
#
#   tests/chart/install-tools.sh            install what is missing
#   tests/chart/install-tools.sh --print    also print HELM=... and PYTHON=...
set -Eeuo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE_DIR="$(realpath -m "${FTE_LOCAL_DIR:-$REPO_ROOT/.fte-local}")"
CACHE_DIR="$STATE_DIR/cache"

# Pinned versions. helm v3.20.2's go.mod asks for Go 1.25; bookworm has 1.19.
HELM_VERSION="${FTE_HELM_VERSION:-v3.20.2}"
GO_VERSION="${FTE_CHART_GO_VERSION:-1.25.14}"
KUBERNETES_VALIDATE_VERSION="${FTE_KUBERNETES_VALIDATE_VERSION:-1.37.0}"
BOOTSTRAP_GO="${FTE_BOOTSTRAP_GO:-/usr/lib/go-1.19/bin/go}"
SYSTEM_PYTHON=/usr/bin/python3

GO_ROOT="$CACHE_DIR/go-$GO_VERSION"
HELM_DIR="$CACHE_DIR/helm-$HELM_VERSION"
HELM="$HELM_DIR/helm"
VENV="$STATE_DIR/venv-chart"
VENV_STAMP="$VENV/.kubernetes-validate-$KUBERNETES_VALIDATE_VERSION"

say() { printf 'chart-tools: %s\n' "$*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

# Module and build caches of their own, writable (-modcacherw) so that a
# plain rm -rf of the cache works.
export GOPATH="$CACHE_DIR/gopath" GOMODCACHE="$CACHE_DIR/gopath/pkg/mod"
export GOCACHE="$CACHE_DIR/gocache" GOFLAGS=-modcacherw GOTOOLCHAIN=local
# No go.env of the user's (and none needed: CI may have no HOME).
export GOENV=off
export GOPROXY="${GOPROXY:-https://proxy.golang.org,direct}"

install_go() {
  [[ -x "$GO_ROOT/bin/go" ]] && return 0
  [[ -x "$BOOTSTRAP_GO" ]] \
    || fail "no $BOOTSTRAP_GO to fetch Go $GO_VERSION with (apt-get install golang-1.19-go; deploy/local/fte-local installs it)"
  local module="golang.org/toolchain@v0.0.1-go$GO_VERSION.linux-amd64" dir tmp
  say "fetching Go $GO_VERSION ($module) through the module proxy"
  dir="$(cd /tmp && "$BOOTSTRAP_GO" mod download -json "$module" \
    | "$SYSTEM_PYTHON" -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Dir") or sys.exit(d.get("Error", "no Dir")))')" \
    || fail "could not download $module"
  tmp="$GO_ROOT.tmp.$$"
  rm -rf "$tmp"
  cp -r "$dir/go" "$tmp" 2>/dev/null || cp -r "$dir" "$tmp"
  # Module zips keep no file modes: the tools must be made executable again
  # (the go command does the same when it switches toolchains itself).
  chmod -R u+w "$tmp"
  chmod +x "$tmp"/bin/* "$tmp"/pkg/tool/*/*
  "$tmp/bin/go" version >/dev/null || fail "the fetched Go $GO_VERSION does not run"
  rm -rf "$GO_ROOT"
  mv "$tmp" "$GO_ROOT"
}

install_helm() {
  [[ -x "$HELM" ]] && "$HELM" version >/dev/null 2>&1 && return 0
  install_go
  say "building helm $HELM_VERSION from helm.sh/helm/v3 with Go $GO_VERSION (a few minutes when cold)"
  local start=$SECONDS tmp="$HELM_DIR.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  (cd /tmp && GOBIN="$tmp" CGO_ENABLED=0 "$GO_ROOT/bin/go" install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION") || fail "go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION failed"
  "$tmp/helm" version >/dev/null || fail "the built helm does not run"
  rm -rf "$HELM_DIR"
  mv "$tmp" "$HELM_DIR"
  # Only the binary is needed from now on: the module and build caches
  # (about 1.3 GB) go, the Go toolchain stays for a version bump.
  rm -rf "$GOCACHE" "$GOPATH"
  say "built helm $HELM_VERSION in $((SECONDS - start))s"
}

install_venv() {
  [[ -f "$VENV_STAMP" && -x "$VENV/bin/python" ]] && return 0
  [[ -x "$SYSTEM_PYTHON" ]] || fail "no $SYSTEM_PYTHON"
  say "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION from PyPI into $VENV"
  rm -rf "$VENV"
  "$SYSTEM_PYTHON" -m venv "$VENV" || fail "$SYSTEM_PYTHON -m venv failed (python3-venv missing?)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    --no-cache-dir "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >&2 \
    || fail "pip install kubernetes-validate==$KUBERNETES_VALIDATE_VERSION failed"
  "$VENV/bin/python" -c 'import kubernetes_validate, jsonschema, yaml' || fail "the venv lacks kubernetes_validate/jsonschema/yaml"
  touch "$VENV_STAMP"
}

mkdir -p "$CACHE_DIR"
# Two ctest runs (or a run beside fte-local) must not build into one folder at once.
exec 8>"$CACHE_DIR/.chart-tools.lock"
flock 8
install_helm
install_venv
if [[ "${1:-}" == --print ]]; then
  printf 'HELM=%s\nPYTHON=%s\n' "$HELM" "$VENV/bin/python"
fi
