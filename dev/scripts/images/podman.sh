#!/usr/bin/env bash
# The container engine for natstack's images: docker when its daemon answers, podman otherwise,
# with podman configured by the project's containers.conf (never the machine's global files).
#
# Source it from bash:
#   source dev/scripts/images/podman.sh
#   engine=$(container_engine)            # "docker" or "podman"; fails when neither works
#   image_exists ENGINE NAME              # is NAME in that engine's local store?
#   podman_run [RUN-OPTIONS...] IMAGE [ARG...]
#   podman_stop NAME [GRACE-SECONDS]      # SIGTERM, then SIGKILL after GRACE (default 30), as a kubelet
#   podman_cleanup                        # remove every container podman_run started
# or run it from any language:
#   dev/scripts/images/podman.sh run [RUN-OPTIONS...] IMAGE [ARG...]
#   dev/scripts/images/podman.sh stop NAME [GRACE-SECONDS]
#   dev/scripts/images/podman.sh cleanup
#   dev/scripts/images/podman.sh engine
#
# podman_run runs a local image (never pulled) in the foreground the way the operator configures
# a pod: host network (Service names resolve as on the host), read-only root filesystem with no
# tmpfs added (as Kubernetes; mount an emptyDir with --tmpfs PATH), every capability dropped, no
# privilege escalation, the image's own user.
# Callers add what the pod spec says: --env, --volume HOST:PATH:ro, --user UID:GID, --name,
# --entrypoint, args. SIGTERM/SIGINT sent to the podman process reach the container, and the
# exit status is the container's. Run in the background, use the executed form
# (`dev/scripts/images/podman.sh run ... &`: $! is podman itself) or stop the container by name
# with podman_stop: a backgrounded shell function's $! is a subshell, not podman. Containers are removed when they exit and carry the label
# natstack.run=$NATSTACK_RUN_LABEL (default "1"; set it before sourcing), which podman_cleanup uses.

NATSTACK_IMAGES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export CONTAINERS_CONF="$NATSTACK_IMAGES_DIR/containers.conf"
: "${NATSTACK_RUN_LABEL:=1}"

# Prints the engine to use: docker if its daemon answers, else podman; fails when neither is there.
container_engine() {
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    echo docker
  elif command -v podman >/dev/null 2>&1; then
    echo podman
  else
    echo "no container engine: neither a docker daemon nor podman (make setup installs podman)" >&2
    return 1
  fi
}

# image_exists ENGINE NAME: whether NAME is in ENGINE's local image store.
image_exists() {
  "$1" image inspect "$2" >/dev/null 2>&1
}

# The flags podman_run puts before the caller's.
NATSTACK_RUN_FLAGS=(
  --rm --pull never --network host
  --read-only --read-only-tmpfs=false
  --cap-drop ALL --security-opt no-new-privileges
  --label "natstack.run=$NATSTACK_RUN_LABEL"
)

podman_run() {
  podman run "${NATSTACK_RUN_FLAGS[@]}" "$@"
}

podman_stop() {
  podman stop --time "${2:-30}" "$1" >/dev/null
}

podman_cleanup() {
  local ids
  ids=$(podman ps --all --quiet --filter "label=natstack.run=$NATSTACK_RUN_LABEL")
  [ -z "$ids" ] || podman rm --force --time 5 $ids >/dev/null
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
    # exec: signals sent to this script go to podman, which passes them to the container.
    run) shift; exec podman run "${NATSTACK_RUN_FLAGS[@]}" "$@" ;;
    stop) shift; podman_stop "$@" ;;
    cleanup) podman_cleanup ;;
    engine) container_engine ;;
    *) echo "usage: $0 run [PODMAN-RUN-OPTIONS...] IMAGE [ARG...] | stop NAME [GRACE] | cleanup | engine" >&2; exit 2 ;;
  esac
fi
