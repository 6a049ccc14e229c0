#!/usr/bin/env bash
# Lints the example workflows and the repository's own with actionlint (https://github.com/rhysd/actionlint).
#
#   scripts/actionlint.sh                 # every examples/*.yml and .github/workflows/*.yml
#   scripts/actionlint.sh path/to/a.yml   # just these files
#
# actionlint is installed on first use from the Go module proxy, pinned, into
# ~/.cache/deploy-service/actionlint-<version>/ (cache that folder in CI); it needs Go 1.24+ on PATH.
# ACTIONLINT_VERSION picks another version; ACTIONLINT=/path/to/actionlint uses one you already have.
# shellcheck and pyflakes, when on PATH, are used by actionlint for `run:` scripts.
set -euo pipefail

version="${ACTIONLINT_VERSION:-1.7.12}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/deploy-service"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

bin="${ACTIONLINT:-$cache/actionlint-$version/actionlint}"
if [ ! -x "$bin" ]; then
  if ! command -v go >/dev/null 2>&1; then
    echo "actionlint.sh: Go is needed to install actionlint $version (https://go.dev/dl/), or set ACTIONLINT to an actionlint binary" >&2
    exit 2
  fi
  echo "actionlint.sh: installing actionlint $version into $cache (go install, once)" >&2
  mkdir -p "$cache"
  staging="$(mktemp -d "$cache/.actionlint-install.XXXXXX")"
  trap 'rm -rf "$staging"' EXIT
  GOBIN="$staging" GOFLAGS=-mod=mod go install "github.com/rhysd/actionlint/cmd/actionlint@v$version"
  mkdir -p "$cache/actionlint-$version"
  # A rename is atomic: a concurrent run sees either no binary or a whole one.
  mv -f "$staging/actionlint" "$bin"
fi

cd "$root"
if [ "$#" -eq 0 ]; then
  shopt -s nullglob
  set -- examples/*.yml examples/*.yaml
  if [ "$#" -eq 0 ]; then
    echo "actionlint.sh: no workflows in examples/" >&2
    exit 1
  fi
  set -- "$@" .github/workflows/*.yml .github/workflows/*.yaml
fi
"$bin" -version | head -n 1 >&2
exec "$bin" -no-color "$@"
