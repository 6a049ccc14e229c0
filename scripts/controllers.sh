#!/usr/bin/env bash
# The progressive-delivery controllers the tests run on the local control plane, built from pinned Go
# modules (test/controllers/<name>/: a small module of ours that requires the controller as a `tool`)
# and cached like the cluster binaries.
#
#   controllers.sh build NAME   build NAME into the cache if missing; print the binary's path
#   controllers.sh path NAME    print the binary's path if built, else exit 1 (no build)
#   controllers.sh crds NAME    print the path of the CRD manifest shipped in the module's source
#
# Controllers: flagger (github.com/fluxcd/flagger v1.36.1, the newest the Go module proxy lists here; its
# go.mod asks for go 1.21, so the machine's Go builds it without replaces).
#
# Environment:
#   DEPLOY_SERVICE_CACHE   cache root (default ~/.cache/deploy-service); binaries go to
#                          $DEPLOY_SERVICE_CACHE/controller-NAME-<key>/, key = hash of go.mod, go.sum + go version
# Progress goes to stderr; the result goes to stdout.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_ROOT="${DEPLOY_SERVICE_CACHE:-${HOME:-/root}/.cache/deploy-service}"

log() { printf '[controllers] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The package of each controller's command, and where its CRDs are in the module's source.
package_of() {
	case "$1" in
	flagger) echo github.com/fluxcd/flagger/cmd/flagger ;;
	*) die "unknown controller '$1' (known: flagger)" ;;
	esac
}
crd_path_of() {
	case "$1" in
	flagger) echo artifacts/flagger/crd.yaml ;;
	*) die "unknown controller '$1'" ;;
	esac
}

module_dir() { echo "$ROOT/test/controllers/$1"; }

version_key() {
	{
		go env GOVERSION GOOS GOARCH 2>/dev/null || echo unknown
		cat "$(module_dir "$1")/go.mod" "$(module_dir "$1")/go.sum"
	} | sha256sum | cut -c1-16
}

bin_path() { echo "$CACHE_ROOT/controller-$1-$(version_key "$1")/$1"; }

cmd_build() {
	local name=$1 bin dir start
	command -v go >/dev/null || die "go is not on PATH"
	package_of "$name" >/dev/null
	bin="$(bin_path "$name")"
	dir="$(dirname "$bin")"
	if [[ -x "$bin" ]]; then echo "$bin"; return 0; fi
	mkdir -p "$dir"
	# One build at a time per version (.ci/run and the tests' global setup may race).
	exec 9>"$dir/.build.lock"
	flock 9
	if [[ ! -x "$bin" ]]; then
		log "first build of $name for this version on this machine: this takes minutes (log: $dir/build.log)"
		start=$SECONDS
		if ! (cd "$(module_dir "$name")" && GOFLAGS="${GOFLAGS:-} -mod=readonly -buildvcs=false" CGO_ENABLED=0 \
			go build -trimpath -ldflags="-s -w" -o "$bin.tmp" "$(package_of "$name")") >>"$dir/build.log" 2>&1; then
			tail -n 40 "$dir/build.log" >&2
			rm -f "$bin.tmp"
			die "build of $name failed (log: $dir/build.log)"
		fi
		mv "$bin.tmp" "$bin"
		log "built $name in $((SECONDS - start))s"
	fi
	exec 9>&-
	echo "$bin"
}

cmd_path() {
	local bin
	bin="$(bin_path "$1")"
	[[ -x "$bin" ]] || exit 1
	echo "$bin"
}

cmd_crds() {
	local name=$1 pkg module version dir
	pkg="$(package_of "$name")"
	module="${pkg%/cmd/*}"
	version="$(cd "$(module_dir "$name")" && go list -m -f '{{.Version}}' "$module")"
	dir="$(cd "$(module_dir "$name")" && GOFLAGS=-mod=readonly go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
	[[ -n "$dir" && -r "$dir/$(crd_path_of "$name")" ]] || die "no CRDs for $name in the module cache"
	echo "$dir/$(crd_path_of "$name")"
}

case "${1:-}" in
build) cmd_build "${2:?usage: controllers.sh build NAME}" ;;
path) cmd_path "${2:?usage: controllers.sh path NAME}" ;;
crds) cmd_crds "${2:?usage: controllers.sh crds NAME}" ;;
*) die "usage: controllers.sh build|path|crds NAME" ;;
esac
