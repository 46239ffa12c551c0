#!/usr/bin/env bash
# `make bench-instructions`: one process's CPU instructions per request, counted by valgrind's
# callgrind: the gateway's by default, or a service's with COUNTED=products (or customers, auth).
# Unlike CPU time on a shared machine, the count repeats to within a fraction of a percent, so
# it shows changes of a few percent that `make bench`'s noise hides. It counts only the counted
# process in user space (its code, libc, the allocator), not the kernel's share, and requests are slower under valgrind, so replies batch less than under
# real load: compare counts with counts, not with `make bench`'s microseconds.
#
# Starts ONE whole system (release binaries, free loopback ports, a throw-away data directory)
# with the COUNTED binary under callgrind, logs in as the admin, warms up, then counts REQUESTS
# (default 4000) `TARGET_METHOD TARGET_PATH` (default `GET /products/7`), with TARGET_BODY as a
# JSON body if set, and the admin's bearer token, over CONCURRENCY (default 8) keep-alive
# connections. A write should be one that can be repeated, e.g.
#   TARGET_METHOD=PATCH TARGET_PATH=/customers/ALFKI TARGET_BODY='{"contact_title":"Owner"}'
# and a service's own cost per request, e.g.
#   COUNTED=products                                   (GET /products/7)
#   COUNTED=customers TARGET_PATH='/customers?limit=20'
# The requests still go through the gateway (with the token, as a client sends them); only the
# counted process is under valgrind, so its count does not depend on the gateway.
# Env: CARGO_TARGET_DIR, PYTHON (default .venv/bin/python), COUNTED (the binary counted:
#      gateway (default), auth, customers or products), COUNTED_BIN (that binary, default the
#      release build's: for A/B runs; GATEWAY_BIN still works for the gateway), REQUESTS,
#      CONCURRENCY,
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
counted=${COUNTED:-gateway}
case "$counted" in
  gateway) default_bin=${GATEWAY_BIN:-$release/gateway} ;;
  auth | customers | products) default_bin=$release/$counted ;;
  *) echo "bench-instructions: COUNTED must be gateway, auth, customers or products" >&2; exit 2 ;;
esac
counted_bin=$(realpath "${COUNTED_BIN:-$default_bin}")
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

# The launcher runs the binaries beside itself: the real ones, but the counted one under callgrind,
# with counting switched on only around the measured requests (callgrind_control below).
bin="$data/bin"
mkdir -p "$bin"
# A copy, not a link: the launcher finds its programs beside its resolved path.
cp "$release/natstack-run" "$bin/"
for program in gateway auth customers products; do
  [ "$program" = "$counted" ] || ln -s "$release/$program" "$bin/"
done
# glibc copies and fills blocks of a few KiB and more with `rep movsb`/`rep stosb`, which
# callgrind counts as one instruction per byte although the CPU moves tens of bytes a cycle:
# one copy of a large future then outweighed whole parsers. Raising glibc's thresholds makes
# it use its vector loops instead, whose count is close to their cost.
cat >"$bin/$counted" <<WRAPPER
#!/bin/sh
GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=4294967295:glibc.cpu.x86_rep_stosb_threshold=4294967295 \
exec valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$data/callgrind.out" \
  --log-file="$data/valgrind.log" "$counted_bin" "\$@"
WRAPPER
chmod +x "$bin/$counted"

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
pid=$(pgrep -f "callgrind.*$counted_bin" | head -n 1)

"$python" -B - "$url" "$ADMIN_EMAIL" "$ADMIN_PASSWORD" "$requests" "$concurrency" "$pid" \
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
echo "$counted instructions per request ($target_method $target_path, $requests requests over $concurrency connections): $((total / requests))"
