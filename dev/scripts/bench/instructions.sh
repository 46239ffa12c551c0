#!/usr/bin/env bash
# `make bench-instructions`: the gateway's CPU instructions per proxied request, counted by
# valgrind's callgrind. Unlike CPU time on a shared machine, the count repeats to within a
# fraction of a percent, so it shows changes of a few percent that `make bench`'s noise hides.
# It counts only the gateway's own process in user space (its code, libc, the allocator), not
# the kernel's share, and requests are slower under valgrind, so replies batch less than under
# real load: compare counts with counts, not with `make bench`'s microseconds.
#
# Starts ONE whole system (release binaries, free loopback ports, a throw-away data directory)
# with the gateway under callgrind, logs in as the admin, warms up, then counts REQUESTS
# (default 4000) `TARGET_METHOD TARGET_PATH` (default `GET /products/7`), with TARGET_BODY as a
# JSON body if set, and the admin's bearer token, over CONCURRENCY (default 8) keep-alive
# connections. A write should be one that can be repeated, e.g.
#   TARGET_METHOD=PATCH TARGET_PATH=/customers/ALFKI TARGET_BODY='{"contact_title":"Owner"}'
# Env: CARGO_TARGET_DIR, PYTHON (default .venv/bin/python), GATEWAY_BIN (the gateway binary
#      counted, default the release build's: for A/B runs), REQUESTS, CONCURRENCY,
#      TARGET_METHOD, TARGET_PATH, TARGET_BODY, CALLGRIND_OUT (keep the profile there, for
#      callgrind_annotate).
set -euo pipefail
cd "$(dirname "$0")/../../.."

python=${PYTHON:-.venv/bin/python}
release=$(cd "${CARGO_TARGET_DIR:-target}/release" && pwd)
requests=${REQUESTS:-4000}
concurrency=${CONCURRENCY:-8}
target_method=${TARGET_METHOD:-GET}
target_path=${TARGET_PATH:-/products/7}
target_body=${TARGET_BODY:-}
gateway_bin=$(realpath "${GATEWAY_BIN:-$release/gateway}")
command -v valgrind >/dev/null || {
  echo "bench-instructions: installing valgrind" >&2
  if [ "$(id -u)" = 0 ]; then sudo=(); else sudo=(sudo); fi
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends valgrind >/dev/null
}

data=$(mktemp -d)
# PostgreSQL runs as its own user when this runs as root: it must reach its data directory.
chmod 755 "$data"
log="$data/natstack-run.log"
free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The launcher runs the binaries beside itself: the real ones, but the gateway under callgrind,
# with counting switched on only around the measured requests (callgrind_control below).
bin="$data/bin"
mkdir -p "$bin"
# A copy, not a link: the launcher finds its programs beside its resolved path.
cp "$release/natstack-run" "$bin/"
for program in auth customers products; do ln -s "$release/$program" "$bin/"; done
cat >"$bin/gateway" <<WRAPPER
#!/bin/sh
exec valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$data/callgrind.out" \
  --log-file="$data/valgrind.log" "$gateway_bin" "\$@"
WRAPPER
chmod +x "$bin/gateway"

. dev/scripts/lib/up.sh
up_cleanup() { rm -rf "$data"; }
up_on_failure() { cat "$log" >&2; echo "bench-instructions: the system did not come up" >&2; }
up_start "$log" "$log" "$bin/natstack-run" --data-dir "$data/run" --rate-limits off \
  --rust-log info --gateway-addr "127.0.0.1:$(free_port)" \
  --nats-port "$(free_port)" --pg-port "$(free_port)" --mongo-port "$(free_port)" \
  --health-gateway "127.0.0.1:$(free_port)" --health-auth "127.0.0.1:$(free_port)" \
  --health-customers "127.0.0.1:$(free_port)" --health-products "127.0.0.1:$(free_port)"
url=$(up_wait "$log" 600) || exit 1
. "$data/run/admin.env"
gateway=$(pgrep -f "callgrind.*$gateway_bin" | head -n 1)

"$python" -B - "$url" "$ADMIN_EMAIL" "$ADMIN_PASSWORD" "$requests" "$concurrency" "$gateway" \
  "$target_method" "$target_path" "$target_body" <<'PY'
"""Logs in, warms up, then sends the counted requests with callgrind's counting switched on."""
import http.client, json, subprocess, sys, threading, urllib.parse

url, email, password, requests, concurrency, pid, method, path, body = sys.argv[1:]
requests, concurrency = int(requests), int(concurrency)
host = urllib.parse.urlsplit(url).netloc

def connection():
    return http.client.HTTPConnection(host, timeout=60)

c = connection()
c.request("POST", "/auth/login", json.dumps({"email": email, "password": password}),
          {"content-type": "application/json"})
reply = c.getresponse()
token = json.loads(reply.read())["access_token"]
headers = {"authorization": f"Bearer {token}"}
if body:
    headers["content-type"] = "application/json"
errors = []

def send(count):
    try:
        c = connection()
        for _ in range(count):
            c.request(method, path, body.encode() or None, headers=headers)
            r = c.getresponse()
            answer = r.read()
            if r.status >= 300:
                errors.append(f"{r.status} {answer[:200]!r}")
                return
    except Exception as e:  # a thread's exception would otherwise only be printed
        errors.append(repr(e))

def load(total):
    threads = [threading.Thread(target=send, args=(total // concurrency,)) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.exit(f"bench-instructions: a request failed: {errors[0]}")

load(concurrency * 50)  # connections open, token cached, buffers grown
subprocess.run(["callgrind_control", "--instr=on", pid], check=True, capture_output=True)
load(requests)
subprocess.run(["callgrind_control", "--dump", pid], check=True, capture_output=True)
PY

# The dump (part 1; the file without a number is written at exit) comes asynchronously.
for _ in $(seq 1 100); do
  out=$(ls "$data"/callgrind.out.* 2>/dev/null | head -n 1 || true)
  [ -n "$out" ] && grep -qE '^(summary|totals):' "$out" && break
  sleep 0.1
done
total=$(grep -hE '^(summary|totals):' "$out" | head -n 1 | awk '{print $2}')
[ -n "$total" ] || { echo "bench-instructions: no callgrind dump" >&2; exit 1; }
if [ -n "${CALLGRIND_OUT:-}" ]; then cp "$out" "$CALLGRIND_OUT"; fi
echo "gateway instructions per proxied request ($target_method $target_path, $requests requests over $concurrency connections): $((total / requests))"
