#!/usr/bin/env bash
# The rendered-stack check with the project's images: brings STACK up with `stack-run
# --containers` (every project workload a container from its image, with the env, args,
# mounts, user and read-only root the operator renders), runs the HTTP checks of `make e2e`
# through its gateway, then stops it. Needs `make images` and a built stack-run.
#   scripts/images/stack-check.sh [STACK]   (default examples/minimal.yaml)
set -euo pipefail
cd "$(dirname "$0")/../.."
stack=${1:-examples/minimal.yaml}
bin=${CARGO_TARGET_DIR:-target}/debug
state=$(mktemp -d -t natstack-stack-check-XXXXXX)
# PostgreSQL runs as its own user: it must be able to reach its data under here.
chmod 755 "$state"
out="$state/stack-run.out"
"$bin/stack-run" -f "$stack" --containers --bin-dir "$bin" --state-dir "$state" >"$out" 2>"$state/stack-run.err" &
pid=$!
stop() {
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$state"
}
trap stop EXIT
deadline=$((SECONDS + 300))
until grep -q '^Gateway: ' "$out"; do
  if ! kill -0 "$pid" 2>/dev/null || [ "$SECONDS" -gt "$deadline" ]; then
    echo "stack-check: $stack did not come up with its images:" >&2
    tail -n 80 "$state/stack-run.err" >&2
    for log in "$state"/*/*/pods/*/*.log; do echo "--- $log" >&2; tail -n 20 "$log" >&2; done
    exit 1
  fi
  sleep 1
done
grep '^\[stack-run\] note:' "$state/stack-run.err" || true
url=$(sed -n 's/^Gateway: //p' "$out")
echo "stack-check: $stack is up with its images at $url"
.venv/bin/python -B scripts/chart/e2e_http.py "$url"
