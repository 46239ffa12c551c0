#!/usr/bin/env bash
# `make docs-test`: starts the whole system with the launcher on free loopback ports and a
# throw-away data directory, then opens its `/docs` page in headless Chromium
# (scripts/docs/check_docs.py). Stops everything on exit, whatever happened.
#
# Env: CARGO_TARGET_DIR (where the debug binaries are), PYTHON (default .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/../.."

python=${PYTHON:-.venv/bin/python}
bin="${CARGO_TARGET_DIR:-target}/debug"
data=$(mktemp -d)
# PostgreSQL runs as its own user when this runs as root: it must reach its data directory.
chmod 755 "$data"
log="$data/natstack-run.log"
free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

gateway="127.0.0.1:$(free_port)"
"$bin/natstack-run" --data-dir "$data/run" --gateway-addr "$gateway" \
  --nats-port "$(free_port)" --pg-port "$(free_port)" --mongo-port "$(free_port)" \
  --health-gateway "127.0.0.1:$(free_port)" --health-auth "127.0.0.1:$(free_port)" \
  --health-customers "127.0.0.1:$(free_port)" --health-products "127.0.0.1:$(free_port)" \
  >"$log" 2>&1 &
launcher=$!
stop() {
  kill -TERM "$launcher" 2>/dev/null || true
  wait "$launcher" 2>/dev/null || true
  rm -rf "$data"
}
trap stop EXIT

# The launcher prints the gateway URL once every service is routed.
for _ in $(seq 600); do
  grep -q "Gateway:" "$log" 2>/dev/null && break
  if ! kill -0 "$launcher" 2>/dev/null; then
    cat "$log" >&2
    echo "docs-test: the launcher stopped before the system was up" >&2
    exit 1
  fi
  sleep 0.5
done
grep -q "Gateway:" "$log" || { cat "$log" >&2; echo "docs-test: the system did not come up" >&2; exit 1; }
"$python" scripts/docs/check_docs.py "http://$gateway"
