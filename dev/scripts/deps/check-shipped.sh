#!/usr/bin/env bash
# Fails when a shipped binary would carry test-only code: the test bed crate or runtime's
# `test-support` feature in the normal (non-dev) dependency tree of the binaries the Dockerfile
# builds, resolved together as its one `cargo build` resolves them.
#
# Usage (from the repository root): dev/scripts/deps/check-shipped.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."

# The shipped binaries are the Dockerfile's (one list; check_dockerfile.py checks it).
binaries=$(sed -n 's/^ARG BINARIES="\(.*\)"$/\1/p' Dockerfile)
[ -n "$binaries" ] || { echo "check-shipped: no ARG BINARIES in the Dockerfile" >&2; exit 1; }

# Prints the test-only crates and features in the normal tree of packages "$@".
test_only() {
  local selection=()
  for package in "$@"; do selection+=(--package "$package"); done
  cargo tree --quiet --offline --locked "${selection[@]}" --edges normal,build \
    --format '{p} [{f}]' --prefix none \
    | grep -E '^testbed |test-support' | sort -u || true
}

# The check must be able to fail: the launcher (a dev program) does carry the test bed.
if [ -z "$(test_only launcher)" ]; then
  echo "check-shipped: the check sees no test bed even in the launcher; it cannot detect one" >&2
  exit 1
fi

# shellcheck disable=SC2086 # one word per binary
found=$(test_only $binaries)
if [ -n "$found" ]; then
  echo "check-shipped: test-only code in a shipped binary ($binaries):" >&2
  echo "$found" >&2
  exit 1
fi
echo "check-shipped: no test bed and no test-support in $binaries"
