#!/usr/bin/env bash
# Copies images into the nodes of a kind cluster, from docker or podman (whichever
# dev/scripts/images/podman.sh picks); an image that is not present locally is pulled first.
#
#   dev/scripts/images/kind-load.sh CLUSTER IMAGE...
#
# docker: `kind load docker-image`. podman: one `podman save` archive of all the images, then
# `kind load image-archive` (kind's docker-image loader needs a docker daemon).
set -euo pipefail
cd "$(dirname "$0")/../../.."
source dev/scripts/images/podman.sh

[ $# -ge 2 ] || { echo "usage: $0 CLUSTER IMAGE..." >&2; exit 2; }
cluster=$1
shift
engine=$(container_engine)
for image in "$@"; do
  image_exists "$engine" "$image" || "$engine" pull "$image"
done
if [ "$engine" = docker ]; then
  kind load docker-image --name "$cluster" "$@"
else
  archive=$(mktemp "${TMPDIR:-/var/tmp}/natstack-kind-load.XXXXXX.tar")
  trap 'rm -f "$archive"' EXIT
  rm -f "$archive"
  podman save --quiet --multi-image-archive --format docker-archive --output "$archive" "$@"
  kind load image-archive --name "$cluster" "$archive"
fi
