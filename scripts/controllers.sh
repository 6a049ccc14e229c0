#!/usr/bin/env bash
# Progressive-delivery controllers for the Kubernetes tests, built from pinned Go modules (the machines reach
# the Go module proxy, not download sites) and cached like the cluster binaries.
#
#   controllers.sh build NAME...   build each controller into the cache if missing; print its folder (one a line)
#   controllers.sh path NAME       print the folder if built, else exit 1 (no build)
#
# NAME is argo-rollouts or flagger. The folder holds the binary (`rollouts-controller`, `flagger`) and `crds/`,
# the CRDs copied from the same module's source, so the tests install exactly the CRDs the controller was
# released with.
#
# Each controller is a small module of ours under test/controllers/<name>/ that requires the upstream module
# and repeats the replace directives its go.mod needs (a dependency's replaces are ignored).
# - argo-rollouts: pinned to v1.8.4: v1.9.x and v1.10.x ask for a newer Go than the machine's (go 1.26.8).
#   Cold build, measured on this 2-core machine shared with a CI run (load 7-14): module download 102 s (an
#   empty module cache for Argo's dependencies), then the build 367 s; about 8 min in all.
# - flagger: v1.36.1, the newest the Go module proxy lists here; its go.mod asks for go 1.21 and needs no
#   replace. Cold build on 2 shared CPUs: module download 55 s, build 175 s.
# From the cache: instant. npm test, jest's global setup and .ci/run start the builds early, in the
# background; the tests' helpers wait for them (the lock).
#
# Environment:
#   DEPLOY_SERVICE_CACHE   cache root (default ~/.cache/deploy-service); the build goes to
#                          $DEPLOY_SERVICE_CACHE/<name>-<key>/, key = hash of go.mod, go.sum + go version
# Progress goes to stderr; the result goes to stdout.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_ROOT="${DEPLOY_SERVICE_CACHE:-${HOME:-/root}/.cache/deploy-service}"

log() { printf '[controllers] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# What each name builds: its module folder, the upstream module, the command package, the binary's name and
# the CRD files (a glob relative to the upstream module's folder).
describe() {
	MODULE_DIR="$ROOT/test/controllers/$1"
	case "$1" in
	argo-rollouts)
		UPSTREAM=github.com/argoproj/argo-rollouts
		COMMAND=$UPSTREAM/cmd/rollouts-controller
		BINARY=rollouts-controller
		CRDS='manifests/crds/*-crd.yaml'
		;;
	flagger)
		UPSTREAM=github.com/fluxcd/flagger
		COMMAND=$UPSTREAM/cmd/flagger
		BINARY=flagger
		CRDS='artifacts/flagger/crd.yaml'
		;;
	*) die "unknown controller '$1' (known: argo-rollouts, flagger)" ;;
	esac
}

version_key() {
	{
		go env GOVERSION GOOS GOARCH 2>/dev/null || echo unknown
		cat "$MODULE_DIR/go.mod" "$MODULE_DIR/go.sum"
	} | sha256sum | cut -c1-16
}

bin_dir() { echo "$CACHE_ROOT/$1-$(version_key)"; }

built() { [[ -x "$1/$BINARY" && -d "$1/crds" ]]; }

cmd_build() {
	command -v go >/dev/null || die "go is not on PATH"
	local dir
	dir="$(bin_dir "$1")"
	if built "$dir"; then
		echo "$dir"
		return 0
	fi
	mkdir -p "$dir"
	# One build at a time per version (npm test, CI, jest's global setup and a test's helper may race).
	exec 9>"$dir/.build.lock"
	flock 9
	if ! built "$dir"; then
		log "first build of $1 for this version on this machine: this takes minutes (log: $dir/build.log)"
		local start=$SECONDS upstream_dir
		if ! (cd "$MODULE_DIR" && GOFLAGS="${GOFLAGS:-} -mod=readonly -buildvcs=false" CGO_ENABLED=0 \
			go build -trimpath -ldflags="-s -w" -o "$dir/$BINARY.tmp" "$COMMAND") >>"$dir/build.log" 2>&1; then
			tail -n 40 "$dir/build.log" >&2
			rm -f "$dir/$BINARY.tmp"
			die "build of $1 failed (log: $dir/build.log)"
		fi
		upstream_dir="$(cd "$MODULE_DIR" && GOFLAGS=-mod=readonly go list -m -f '{{.Dir}}' "$UPSTREAM")"
		rm -rf "$dir/crds.tmp"
		mkdir -p "$dir/crds.tmp"
		# shellcheck disable=SC2086 # CRDS is a glob
		cp "$upstream_dir"/$CRDS "$dir/crds.tmp/"
		chmod -R u+w "$dir/crds.tmp"
		mv "$dir/crds.tmp" "$dir/crds"
		mv "$dir/$BINARY.tmp" "$dir/$BINARY"
		log "built $1 in $((SECONDS - start))s"
	fi
	exec 9>&-
	echo "$dir"
}

cmd_path() {
	local dir
	dir="$(bin_dir "$1")"
	built "$dir" || exit 1
	echo "$dir"
}

case "${1:-}" in
build)
	[[ $# -ge 2 ]] || die "usage: controllers.sh build <name>..."
	shift
	for name in "$@"; do
		describe "$name"
		cmd_build "$name"
	done
	;;
path)
	[[ $# -eq 2 ]] || die "usage: controllers.sh path <name>"
	describe "$2"
	cmd_path "$2"
	;;
*) die "usage: controllers.sh build <name>... | path <name>" ;;
esac
