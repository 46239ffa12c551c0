#!/usr/bin/env bash
# Builds natstack's images from the one Dockerfile, with docker when its daemon answers and
# podman otherwise (configured by dev/scripts/images/containers.conf), tagged
# <REGISTRY>/<component>:<VERSION>. `make images` runs it.
#
#   dev/scripts/images/build.sh REGISTRY VERSION COMPONENT... [-- EXTRA-BUILD-FLAGS...]
#
# The Dockerfile compiles every binary in one stage that does not depend on the component, so
# the first image pays for the compilation and the others reuse that stage from the layer
# cache. A base image that is neither present nor pullable (no registry reachable) is made
# locally by dev/scripts/images/base.sh under the same name.
set -euo pipefail
cd "$(dirname "$0")/../../.."
source dev/scripts/images/podman.sh

say() { printf '\033[1;34m[images]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[images]\033[0m %s\n' "$*" >&2; exit 1; }

[ $# -ge 3 ] || die "usage: $0 REGISTRY VERSION COMPONENT... [-- EXTRA-BUILD-FLAGS...]"
registry=$1 version=$2
shift 2
components=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do components+=("$1"); shift; done
[ $# -eq 0 ] || shift
extra=("$@")
[ -n "$version" ] || die "VERSION is empty: set it or check Cargo.toml"

engine=$(container_engine)
case "$engine" in
  # BuildKit (the default builder since Docker 23) provides the cache mounts.
  docker) export DOCKER_BUILDKIT=1; build=(docker build) ;;
  # Host network for the build's RUN steps: cargo fetches crates without a bridge network.
  podman) build=(podman build --layers --network host) ;;
esac

# Base images: present, else pulled, else a local stand-in.
missing=0
for arg in BUILDER_IMAGE RUNTIME_IMAGE; do
  image=$(sed -n "s/^ARG $arg=\"\{0,1\}\([^\"]*\)\"\{0,1\}\$/\1/p" Dockerfile | head -n 1)
  for flag in "${extra[@]}"; do
    case "$flag" in "$arg="*) image=${flag#*=} ;; esac
  done
  image_exists "$engine" "$image" && continue
  say "pulling $image"
  "$engine" pull --quiet "$image" >/dev/null || missing=1
done
if [ "$missing" = 1 ]; then
  say "a base image cannot be pulled: making local stand-ins (dev/scripts/images/base.sh)"
  dev/scripts/images/base.sh
fi

total=$SECONDS
for component in "${components[@]}"; do
  tag="$registry/$component:$version"
  start=$SECONDS
  say "$engine: building $tag"
  "${build[@]}" --build-arg BIN="$component" --tag "$tag" "${extra[@]}" . \
    || die "building $tag failed (see the $engine output above)"
  say "built $tag in $((SECONDS - start)) s"
done

say "built ${#components[@]} images with $engine in $((SECONDS - total)) s:"
for component in "${components[@]}"; do
  tag="$registry/$component:$version"
  printf '  %-45s %s\n' "$tag" "$("$engine" image inspect --format '{{ .Size }}' "$tag" | numfmt --to=iec --suffix=B)"
done
