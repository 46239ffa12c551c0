#!/usr/bin/env bash
# Installs what natstack needs on a Debian machine and does nothing when it is all present:
# Debian packages (PostgreSQL, Python venv support, curl, podman when there is no docker daemon),
# the Rust components the checks use, and the Python tools in a project-local virtualenv (.venv).
set -euo pipefail
cd "$(dirname "$0")/../.."

say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[setup]\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root to run: $* (install sudo or run as root)"
  fi
}

# --- Debian packages ------------------------------------------------------------------------
packages=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || packages+=(postgresql)
command -v psql >/dev/null || packages+=(postgresql-client)
command -v cc >/dev/null || packages+=(build-essential)
command -v curl >/dev/null || packages+=(curl)
command -v setpriv >/dev/null || packages+=(util-linux)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || packages+=(python3-venv)
# The headless browser the API docs page is checked in (make docs-test).
command -v chromium >/dev/null || packages+=(chromium)
# promtool checks every binary's /metrics and the alert rules (make rules-test); the Prometheus
# server itself runs in make observability-test.
command -v promtool >/dev/null || packages+=(prometheus)
# Images (make images, make image-test): docker when its daemon answers; otherwise daemonless
# podman with buildah, runc (dev/scripts/images/containers.conf selects it), iptables for its
# networks, and debootstrap for the local base images (dev/scripts/images/base.sh).
if ! { command -v docker >/dev/null && docker info >/dev/null 2>&1; }; then
  for tool in podman buildah runc iptables debootstrap; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || packages+=("$tool")
  done
fi
if [ ${#packages[@]} -gt 0 ]; then
  say "installing Debian packages: ${packages[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi
# Debian starts a cluster on install; natstack runs its own, so leave the system one alone.

# --- Rust -----------------------------------------------------------------------------------
if ! command -v cargo >/dev/null; then
  [ -x "$HOME/.cargo/bin/cargo" ] || {
    say "installing Rust with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal \
      --component rustfmt,clippy || die "cannot install Rust; install rustup from https://rustup.rs"
  }
  export PATH="$HOME/.cargo/bin:$PATH"
fi
for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    command -v rustup >/dev/null || die "cargo $component is missing and rustup is not available"
    say "adding Rust component $component"
    rustup component add "$component"
  fi
done

if ! cargo nextest --version >/dev/null 2>&1; then
  say "installing cargo-nextest (the test runner)"
  cargo install --locked cargo-nextest
fi

if ! cargo machete --version >/dev/null 2>&1; then
  say "installing cargo-machete (finds unused dependencies)"
  cargo install --locked cargo-machete
fi

# --- Python tools ---------------------------------------------------------------------------
stamp=.venv/.requirements.sha256
want=$(sha256sum dev/scripts/requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "creating .venv with the Python tools (dev/scripts/requirements.txt)"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -r dev/scripts/requirements.txt
  echo "$want" > "$stamp"
fi
for tool in nats-server nx-27017 kubernetes-validate; do
  [ -x ".venv/bin/$tool" ] || die ".venv/bin/$tool is missing after install"
done
