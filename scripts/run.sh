#!/usr/bin/env bash
# `make run`: the whole natstack system on this machine, on loopback, with no Kubernetes.
#
# Starts nats-server, a PostgreSQL cluster (databases `customers` and `products`), the
# MongoDB-wire server nx-27017, then auth, customers, products and the gateway; waits until
# the gateway routes all three services; prints the URL, an admin login and curl lines.
# Ctrl-C (or SIGTERM) stops everything; data stays in .run/ until `make clean`.
#
# Overridable: GATEWAY_ADDR (127.0.0.1:8080), NATS_PORT (4222), PG_PORT (5433),
# MONGO_PORT (27017), ADMIN_EMAIL/ADMIN_PASSWORD (otherwise generated once into .run/),
# RUST_LOG, CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

say() { printf '\033[1;34m[run]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[run]\033[0m %s\n' "$*" >&2; exit 1; }

GATEWAY_ADDR=${GATEWAY_ADDR:-127.0.0.1:8080}
NATS_PORT=${NATS_PORT:-4222}
PG_PORT=${PG_PORT:-5433}
MONGO_PORT=${MONGO_PORT:-27017}
HEALTH_GATEWAY=${HEALTH_GATEWAY:-127.0.0.1:9190}
HEALTH_AUTH=${HEALTH_AUTH:-127.0.0.1:9191}
HEALTH_CUSTOMERS=${HEALTH_CUSTOMERS:-127.0.0.1:9192}
HEALTH_PRODUCTS=${HEALTH_PRODUCTS:-127.0.0.1:9193}
URL="http://${GATEWAY_ADDR}"
RUN=$ROOT/.run
LOGS=$RUN/logs

# --- Install and build ----------------------------------------------------------------------
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
say "building the binaries (debug)"
cargo build -q -p gateway -p auth -p customers -p products
TARGET=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
BIN=$TARGET/debug
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -x "$PG_BIN/initdb" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for spec in "NATS_PORT:$NATS_PORT" "PG_PORT:$PG_PORT" "MONGO_PORT:$MONGO_PORT" \
  "GATEWAY_ADDR:${GATEWAY_ADDR##*:}" "HEALTH_GATEWAY:${HEALTH_GATEWAY##*:}" \
  "HEALTH_AUTH:${HEALTH_AUTH##*:}" "HEALTH_CUSTOMERS:${HEALTH_CUSTOMERS##*:}" \
  "HEALTH_PRODUCTS:${HEALTH_PRODUCTS##*:}"; do
  port_free "${spec#*:}" || die "port ${spec#*:} is in use (set ${spec%%:*} to another one)"
done

mkdir -p "$LOGS" "$RUN/mongo"

# --- Process bookkeeping --------------------------------------------------------------------
# Each server runs in its own session (setsid), so it and anything it forks can be stopped as
# one process group; stop() runs once, in reverse start order, on exit or signal.
PIDS=()
NAMES=()
STOPPING=0

start() { # name logfile command...
  local name=$1 log=$2
  shift 2
  setsid "$@" >>"$log" 2>&1 </dev/null &
  PIDS+=($!)
  NAMES+=("$name")
}

stop() {
  [ "$STOPPING" = 1 ] && return
  STOPPING=1
  trap - INT TERM
  [ ${#PIDS[@]} -eq 0 ] && return
  say "stopping"
  local i pid
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid=${PIDS[$i]}
    # PostgreSQL's fast shutdown is SIGINT; everything else stops on SIGTERM.
    if [ "${NAMES[$i]}" = postgres ]; then kill -INT -- "-$pid" 2>/dev/null || true
    else kill -TERM -- "-$pid" 2>/dev/null || true; fi
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      say "${NAMES[$i]} did not stop in 10 s; killing it"
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  say "stopped; data kept in .run/ (make clean deletes it)"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

alive_or_die() { # index
  kill -0 "${PIDS[$1]}" 2>/dev/null && return 0
  printf '\033[1;31m[run]\033[0m %s exited; the end of its log:\n' "${NAMES[$1]}" >&2
  tail -n 30 "$LOGS/${NAMES[$1]}.log" >&2
  exit 1
}

wait_for() { # what index timeout_s command...
  local what=$1 index=$2 timeout=$3
  shift 3
  for _ in $(seq $((timeout * 10))); do
    "$@" >/dev/null 2>&1 && return 0
    alive_or_die "$index"
    sleep 0.1
  done
  die "$what not ready after ${timeout}s (see $LOGS/${NAMES[$index]}.log)"
}

# --- NATS -----------------------------------------------------------------------------------
say "starting nats-server on 127.0.0.1:$NATS_PORT"
start nats "$LOGS/nats.log" .venv/bin/nats-server -a 127.0.0.1 -p "$NATS_PORT"
wait_for "nats-server" $((${#PIDS[@]} - 1)) 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$NATS_PORT"

# --- PostgreSQL -----------------------------------------------------------------------------
PG_DATA=$RUN/pg
as_pg=()
if [ "$(id -u)" = 0 ]; then
  # PostgreSQL refuses to run as root: run it as the `postgres` system user.
  id postgres >/dev/null 2>&1 || die "the postgres system user is missing (apt-get install postgresql)"
  as_pg=(setpriv "--reuid=$(id -u postgres)" "--regid=$(id -g postgres)" --init-groups --)
fi
if [ ! -f "$PG_DATA/PG_VERSION" ]; then
  say "creating the PostgreSQL cluster in .run/pg"
  rm -rf "$PG_DATA"
  mkdir -p "$PG_DATA"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DATA"
  "${as_pg[@]}" "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 --locale=C \
    --no-instructions >"$LOGS/initdb.log" 2>&1 || { cat "$LOGS/initdb.log" >&2; die "initdb failed"; }
fi
rm -f "$PG_DATA/postmaster.pid" 2>/dev/null || true
[ "$(id -u)" = 0 ] && touch "$LOGS/postgres.log" && chown postgres "$LOGS/postgres.log"
say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
start postgres "$LOGS/postgres.log" "${as_pg[@]}" "$PG_BIN/postgres" -D "$PG_DATA" -p "$PG_PORT" \
  -k "$PG_DATA" -c listen_addresses=127.0.0.1
PG_INDEX=$((${#PIDS[@]} - 1))
wait_for "PostgreSQL" "$PG_INDEX" 60 "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"
for db in customers products; do
  if ! "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
    "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE $db" >/dev/null
  fi
done

# --- MongoDB-wire server --------------------------------------------------------------------
say "starting nx-27017 on 127.0.0.1:$MONGO_PORT"
start mongo "$LOGS/mongo.log" .venv/bin/nx-27017 --host 127.0.0.1 --port "$MONGO_PORT" \
  --data-dir "$RUN/mongo"
wait_for "nx-27017" $((${#PIDS[@]} - 1)) 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/$MONGO_PORT"

# --- Services and gateway -------------------------------------------------------------------
if [ -z "${ADMIN_EMAIL:-}" ] || [ -z "${ADMIN_PASSWORD:-}" ]; then
  if [ ! -f "$RUN/admin.env" ]; then
    password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
    printf 'ADMIN_EMAIL=admin@example.com\nADMIN_PASSWORD=%s\n' "$password" >"$RUN/admin.env"
    chmod 600 "$RUN/admin.env"
  fi
  # shellcheck disable=SC1091
  . "$RUN/admin.env"
fi
export ADMIN_EMAIL ADMIN_PASSWORD
# A signing key kept in .run/, so tokens survive a restart.
if [ ! -f "$RUN/jwt.pem" ] && command -v openssl >/dev/null; then
  openssl genpkey -algorithm ed25519 -out "$RUN/jwt.pem" 2>/dev/null && chmod 600 "$RUN/jwt.pem"
fi
[ -f "$RUN/jwt.pem" ] && export JWT_PRIVATE_KEY_FILE=$RUN/jwt.pem

export NATS_URL="nats://127.0.0.1:$NATS_PORT" RUST_LOG=${RUST_LOG:-info} LOG_FORMAT=${LOG_FORMAT:-pretty}
say "starting auth, customers, products"
HEALTH_ADDR=$HEALTH_AUTH MONGODB_URL="mongodb://127.0.0.1:$MONGO_PORT" \
  start auth "$LOGS/auth.log" "$BIN/auth"
HEALTH_ADDR=$HEALTH_CUSTOMERS DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/customers" \
  start customers "$LOGS/customers.log" "$BIN/customers"
HEALTH_ADDR=$HEALTH_PRODUCTS DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/products" \
  start products "$LOGS/products.log" "$BIN/products"
say "starting the gateway on $GATEWAY_ADDR"
HEALTH_ADDR=$HEALTH_GATEWAY LISTEN_ADDR=$GATEWAY_ADDR DISCOVERY_INTERVAL_MS=1000 \
  start gateway "$LOGS/gateway.log" "$BIN/gateway"
GATEWAY_INDEX=$((${#PIDS[@]} - 1))

routed_all() {
  local view
  view=$(curl -fsS "$URL/services") || return 1
  for subject in auth.login customers.list products.list; do
    grep -q "\"subject\":\"$subject\"" <<<"$view" || return 1
  done
}
for i in $(seq 0 $GATEWAY_INDEX); do alive_or_die "$i"; done
wait_for "the gateway" "$GATEWAY_INDEX" 120 curl -fsS "$URL/readyz"
for _ in $(seq 1200); do
  routed_all && break
  for i in $(seq 0 $GATEWAY_INDEX); do alive_or_die "$i"; done
  sleep 0.1
done
routed_all || die "the gateway does not route auth, customers and products (see $LOGS/)"

cat <<INFO

  natstack is up.   Gateway: $URL      Logs: .run/logs/      Stop: Ctrl-C

  Admin login:  $ADMIN_EMAIL  /  $ADMIN_PASSWORD

  Try:
    TOKEN=\$(curl -s -X POST $URL/auth/login -H 'content-type: application/json' \\
      -d '{"email":"$ADMIN_EMAIL","password":"$ADMIN_PASSWORD"}' | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
    curl -s "$URL/customers?limit=3" -H "authorization: Bearer \$TOKEN"
    curl -s "$URL/customers/ALFKI" -H "authorization: Bearer \$TOKEN"
    curl -s "$URL/products?q=chai" -H "authorization: Bearer \$TOKEN"
    curl -s "$URL/categories" -H "authorization: Bearer \$TOKEN"
    curl -s -X POST $URL/auth/register -H 'content-type: application/json' \\
      -d '{"username":"ada","email":"ada@example.com","password":"correct-horse-battery"}'
    curl -s $URL/services          # what discovery sees
    curl -s $URL/openapi.json      # the API, assembled from the services

INFO

# Stay in the foreground until a signal or until a process dies.
while :; do
  for i in "${!PIDS[@]}"; do alive_or_die "$i"; done
  sleep 1 &
  wait $! || true
done
