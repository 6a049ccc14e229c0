#!/usr/bin/env bash
# Audits the repository's workflows and the example workflows with zizmor (https://docs.zizmor.sh): template
# injection, excessive permissions, actions not pinned by SHA, credentials left in the checkout, and the rest
# of its offline audits, configured by .github/zizmor.yml. Exits non-zero on any finding.
#
#   scripts/zizmor.sh                   # .github/workflows/*.yml and examples/*.yml
#   scripts/zizmor.sh path/to/a.yml     # just these files
#   scripts/zizmor.sh --format=json     # zizmor's own options (--name=value form), with either of the above
#   scripts/zizmor.sh --install         # install only (CI's install step), print the binary's path
#
# zizmor is one static binary shipped as a Python wheel; it is installed on first use with pip, pinned, into
# ~/.cache/deploy-service/zizmor-<version>/ (an 11 MB download, 39 MB installed; 1 s on a cold machine). Offline:
# no audit asks GitHub anything (--offline), so the result depends only on the files.
# ZIZMOR_VERSION picks another version; ZIZMOR=/path/to/zizmor uses one you already have.
set -euo pipefail

version="${ZIZMOR_VERSION:-1.33.1}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/deploy-service"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

bin="${ZIZMOR:-$cache/zizmor-$version/bin/zizmor}"
if [ ! -x "$bin" ]; then
  python=$(command -v python3 || command -v python || true)
  if [ -z "$python" ]; then
    echo "zizmor.sh: Python 3 with pip is needed to install zizmor $version, or set ZIZMOR to a zizmor binary" >&2
    exit 2
  fi
  echo "zizmor.sh: installing zizmor $version into $cache (pip, once)" >&2
  mkdir -p "$cache"
  staging="$(mktemp -d "$cache/.zizmor-install.XXXXXX")"
  trap 'rm -rf "$staging"' EXIT
  # --only-binary: the wheel carries the prebuilt binary; never fall back to building it from source (Rust).
  "$python" -m pip install --quiet --disable-pip-version-check --no-deps --only-binary=:all: --root-user-action=ignore \
    --target "$staging" "zizmor==$version"
  # A rename is atomic: a concurrent run sees either no folder or a whole one.
  mv -T "$staging" "$cache/zizmor-$version" 2>/dev/null || true
  [ -x "$bin" ] || { echo "zizmor.sh: the zizmor $version wheel has no bin/zizmor for this platform" >&2; exit 2; }
fi

if [ "${1:-}" = "--install" ]; then
  echo "$bin"
  exit 0
fi

cd "$root"
# zizmor options (in --name=value form, e.g. --format=json) pass through; without files, the default set.
options=() files=()
for arg in "$@"; do
  case "$arg" in -*) options+=("$arg") ;; *) files+=("$arg") ;; esac
done
if [ "${#files[@]}" -eq 0 ]; then
  shopt -s nullglob
  # Files, not folders: given a folder zizmor looks for .github/workflows inside it and would skip examples/.
  files=(.github/workflows/*.yml .github/workflows/*.yaml examples/*.yml examples/*.yaml)
fi
"$bin" --version >&2
exec "$bin" --offline --config "$root/.github/zizmor.yml" --no-progress --color never --strict-collection "${options[@]}" "${files[@]}"
