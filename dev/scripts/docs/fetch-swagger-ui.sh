#!/usr/bin/env bash
# Refreshes the Swagger UI files the gateway embeds for `GET /docs` from the npm registry:
# a pinned swagger-ui-dist release, checked against its published integrity hash. The files
# are committed (gateway/assets/swagger-ui/), so building the gateway needs no network and the
# page works in an air-gapped cluster; run this only to move to another release.
#
# Usage: dev/scripts/docs/fetch-swagger-ui.sh [VERSION INTEGRITY]
set -euo pipefail
cd "$(dirname "$0")/../../.."

version=${1:-5.35.0}
integrity=${2:-sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==}
registry=${NPM_REGISTRY:-https://registry.npmjs.org}
out=gateway/assets/swagger-ui

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl -fsSL "$registry/swagger-ui-dist/-/swagger-ui-dist-$version.tgz" -o "$work/dist.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$work/dist.tgz" | base64 -w0)"
if [ "$got" != "$integrity" ]; then
  echo "fetch-swagger-ui: integrity mismatch for $version: got $got" >&2
  exit 1
fi
tar -xzf "$work/dist.tgz" -C "$work"
mkdir -p "$out"
for file in swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE; do
  cp "$work/package/$file" "$out/$file"
done
# Source-map comments name files we do not serve (a browser's developer tools would ask).
sed -i -e 's|//# sourceMappingURL=.*$||' -e 's|/\*# sourceMappingURL=[^*]*\*/||' \
  "$out/swagger-ui-bundle.js" "$out/swagger-ui.css"
echo "$version" >"$out/VERSION"
echo "fetch-swagger-ui: swagger-ui-dist $version in $out"
