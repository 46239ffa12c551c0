#!/usr/bin/env bash
# The rendered-stack check with the project's images: brings STACK up with `stack-run
# --containers` (every project workload a container from its image, with the env, args,
# mounts, user and read-only root the operator renders), runs the HTTP checks of `make e2e`
# through its gateway, then stops it. Needs `make images` and a built stack-run.
#   dev/scripts/images/stack-check.sh [STACK]   (default examples/minimal.yaml)
set -euo pipefail
cd "$(dirname "$0")/../../.."
stack=${1:-examples/minimal.yaml}
bin=${CARGO_TARGET_DIR:-target}/debug
state=$(mktemp -d -t natstack-stack-check-XXXXXX)
# PostgreSQL runs as its own user: it must be able to reach its data under here.
chmod 755 "$state"
out="$state/stack-run.out"
. dev/scripts/lib/up.sh
up_cleanup() { rm -rf "$state"; }
up_on_failure() {
  echo "stack-check: $stack did not come up with its images:" >&2
  tail -n 80 "$state/stack-run.err" >&2
  for log in "$state"/*/*/pods/*/*.log; do echo "--- $log" >&2; tail -n 20 "$log" >&2; done
}
up_start "$out" "$state/stack-run.err" \
  "$bin/stack-run" -f "$stack" --containers --bin-dir "$bin" --state-dir "$state"
url=$(up_wait "$out" 300) || exit 1
grep '^\[stack-run\] note:' "$state/stack-run.err" || true
echo "stack-check: $stack is up with its images at $url"
.venv/bin/python -B dev/scripts/chart/e2e_http.py "$url"
