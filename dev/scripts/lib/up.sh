# Sourced by scripts that bring a whole system up in the background, wait for it to print its
# "Gateway: URL" line, and must stop it on exit whatever happens (docs-test, stack-check).
#
#   up_start OUT ERR COMMAND...  runs COMMAND in the background, stdout to OUT and stderr to ERR
#                                (the same file is fine), and stops it on exit
#   up_wait OUT SECONDS          waits for the "Gateway: URL" line in OUT and prints URL; returns
#                                1 if COMMAND stopped or SECONDS passed first
#
# Hooks the caller may define: up_on_failure (tell what went wrong, before up_wait returns 1)
# and up_cleanup (runs after the stop, e.g. to remove a temporary directory).

up_pid=

up_stop() {
  if [ -n "$up_pid" ]; then
    kill -TERM "$up_pid" 2>/dev/null || true
    wait "$up_pid" 2>/dev/null || true
  fi
  if declare -F up_cleanup >/dev/null; then up_cleanup; fi
}

up_start() {
  local out=$1 err=$2
  shift 2
  if [ "$out" = "$err" ]; then
    "$@" >"$out" 2>&1 &
  else
    "$@" >"$out" 2>"$err" &
  fi
  up_pid=$!
  trap up_stop EXIT
}

up_wait() {
  local out=$1 deadline=$((SECONDS + $2))
  until grep -q 'Gateway: ' "$out" 2>/dev/null; do
    if ! kill -0 "$up_pid" 2>/dev/null || [ "$SECONDS" -gt "$deadline" ]; then
      if declare -F up_on_failure >/dev/null; then up_on_failure; fi
      return 1
    fi
    sleep 0.5
  done
  sed -nE 's/.*Gateway: +([^ ]+).*/\1/p' "$out" | head -n 1
}
