#!/usr/bin/env bash
# helm and kustomize for the tests and the demo, built from pinned Go modules (the machines reach the Go
# module proxy, not download sites) and cached like the cluster binaries.
#
#   tools.sh build   build both into the cache if missing; print the folder (put it on PATH)
#   tools.sh path    print the folder if both are built, else exit 1 (no build)
#
# Environment:
#   DEPLOY_SERVICE_CACHE   cache root (default ~/.cache/deploy-service); the binaries go to
#                          $DEPLOY_SERVICE_CACHE/tools-<key>/, key = hash of the versions below + go version
#
# The versions are pinned to ones whose go.mod the machine's Go accepts (go 1.26: helm v3.22.0 and
# kustomize v5.8.2; kustomize v5.8.3 asks for go 1.27). Helm 3 rather than 4: the hosted runners' images
# and azure/setup-helm users mostly run 3, and `helm template` is the same command in both.
# Cold (empty Go module and build caches) the build took 368 s on 2 CPUs shared with other work, 110 s
# with the modules already downloaded; npm test and .ci/run start it early, in the background.
# Progress goes to stderr; the result goes to stdout.
set -euo pipefail

HELM_MODULE=helm.sh/helm/v3
HELM_VERSION=v3.22.0
KUSTOMIZE_MODULE=sigs.k8s.io/kustomize/kustomize/v5
KUSTOMIZE_VERSION=v5.8.2

CACHE_ROOT="${DEPLOY_SERVICE_CACHE:-${HOME:-/root}/.cache/deploy-service}"

log() { printf '[tools] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Helm prints the version stamped at link time (its own release build does the same), else a bare "v3.22".
helm_ldflags() { echo "-s -w -X $HELM_MODULE/internal/version.version=$HELM_VERSION"; }

version_key() {
	{
		go env GOVERSION GOOS GOARCH 2>/dev/null || echo unknown
		echo "$HELM_MODULE@$HELM_VERSION $(helm_ldflags)"
		echo "$KUSTOMIZE_MODULE@$KUSTOMIZE_VERSION"
	} | sha256sum | cut -c1-16
}

bin_dir() { echo "$CACHE_ROOT/tools-$(version_key)"; }

built() { [[ -x "$1/helm" && -x "$1/kustomize" ]]; }

# go_install DIR PACKAGE@VERSION LDFLAGS NAME: `go install` of a released module's command (its own go.mod
# and go.sum decide the dependencies); the binary appears only when the build succeeded.
go_install() {
	local dir=$1 pkg=$2 flags=$3 name=$4 tmp
	tmp="$dir/.build-$name"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	log "building $name ($pkg)"
	if ! (cd "$tmp" && GOBIN="$tmp" GOFLAGS="${GOFLAGS:-} -buildvcs=false" CGO_ENABLED=0 \
		go install -trimpath -ldflags="$flags" "$pkg") >>"$dir/build.log" 2>&1; then
		tail -n 40 "$dir/build.log" >&2
		die "build of $name failed (log: $dir/build.log)"
	fi
	mv "$tmp/$name" "$dir/$name"
	rm -rf "$tmp"
}

cmd_build() {
	command -v go >/dev/null || die "go is not on PATH"
	local dir
	dir="$(bin_dir)"
	if built "$dir"; then
		echo "$dir"
		return 0
	fi
	mkdir -p "$dir"
	# One build at a time per version (CI, the test setup and a developer may race).
	exec 9>"$dir/.build.lock"
	flock 9
	if ! built "$dir"; then
		log "first build for these versions on this machine: this takes minutes (log: $dir/build.log)"
		local start=$SECONDS
		[[ -x "$dir/kustomize" ]] || go_install "$dir" "$KUSTOMIZE_MODULE@$KUSTOMIZE_VERSION" "-s -w" kustomize
		[[ -x "$dir/helm" ]] || go_install "$dir" "$HELM_MODULE/cmd/helm@$HELM_VERSION" "$(helm_ldflags)" helm
		log "built in $((SECONDS - start))s"
	fi
	exec 9>&-
	echo "$dir"
}

cmd_path() {
	local dir
	dir="$(bin_dir)"
	built "$dir" || { log "not built yet: run 'bash scripts/tools.sh build'"; exit 1; }
	echo "$dir"
}

case "${1:-}" in
build) cmd_build ;;
path) cmd_path ;;
*) die "usage: tools.sh build|path" ;;
esac
