#!/usr/bin/env bash
# Makes local stand-ins for the Dockerfile's two base images, for machines that reach no
# container registry, under the exact names the Dockerfile's BUILDER_IMAGE and RUNTIME_IMAGE
# default to, so the build runs the same Dockerfile path users run with the public images.
# An image already present under that name (pulled or made earlier) is kept; a missing one is
# pulled when a registry answers, and made here only when none does.
#
#   builder (rust:<v>-slim-bookworm): Debian bookworm minbase (debootstrap) with gcc,
#            libc6-dev and CA certificates, plus this machine's Rust toolchain laid out as
#            in the official image (RUSTUP_HOME=/usr/local/rustup, CARGO_HOME=/usr/local/cargo).
#   runtime (distroless cc-debian12:nonroot): glibc, libgcc and the CA bundle from bookworm
#            packages (apt-get download + dpkg-deb -x), /etc/passwd with nonroot (65532) and
#            nothing else: no shell, no package manager.
#
# Both carry the label dev.natstack.stand-in=true. Remove them to rebuild:
#   podman rmi docker.io/library/rust:1.95-slim-bookworm gcr.io/distroless/cc-debian12:nonroot
set -euo pipefail
cd "$(dirname "$0")/../../.."
source dev/scripts/images/podman.sh

say() { printf '\033[1;34m[base-images]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[base-images]\033[0m %s\n' "$*" >&2; exit 1; }

# The default of a global `ARG NAME=value` in the Dockerfile.
dockerfile_arg() {
  sed -n "s/^ARG $1=\"\{0,1\}\([^\"]*\)\"\{0,1\}\$/\1/p" Dockerfile | head -n 1
}

engine=$(container_engine)
builder=$(dockerfile_arg BUILDER_IMAGE)
runtime=$(dockerfile_arg RUNTIME_IMAGE)
[ -n "$builder" ] && [ -n "$runtime" ] || die "cannot read ARG BUILDER_IMAGE / RUNTIME_IMAGE defaults from the Dockerfile"

work=$(mktemp -d "${TMPDIR:-/var/tmp}/natstack-base.XXXXXX")
trap 'rm -rf "$work"' EXIT
# apt-get download runs as the _apt user when it can; let it write here.
chmod 0755 "$work"

# import ROOTFS NAME [--change ...]: a one-layer image from a directory, owned as on disk.
import() {
  local root=$1 name=$2
  shift 2
  tar --create --numeric-owner --directory "$root" . \
    | "$engine" import --change 'LABEL dev.natstack.stand-in=true' "$@" - "$name" \
      >/dev/null 2>"$work/import.log" || { cat "$work/import.log" >&2; die "cannot import $name"; }
}

make_runtime() {
  local root="$work/runtime" debs="$work/debs"
  mkdir -p "$root" "$debs"
  say "building $runtime from bookworm packages (libc6 libgcc-s1 ca-certificates)"
  (cd "$debs" && apt-get download -qq libc6 libgcc-s1 ca-certificates 2>/dev/null) || {
    say "refreshing the apt package lists"
    apt-get update -qq
    (cd "$debs" && apt-get download -qq libc6 libgcc-s1 ca-certificates)
  }
  for deb in "$debs"/*.deb; do dpkg-deb --extract "$deb" "$root"; done

  # The CA bundle is what update-ca-certificates would generate; then drop the tooling.
  mkdir -p "$root/etc/ssl/certs"
  cat "$root"/usr/share/ca-certificates/mozilla/*.crt > "$root/etc/ssl/certs/ca-certificates.crt"
  # Programs, locales, charset converters and docs are not needed to run a Rust binary.
  rm -rf "$root"/usr/bin "$root"/usr/sbin "$root"/sbin "$root"/bin "$root"/usr/share \
    "$root"/usr/lib/x86_64-linux-gnu/gconv "$root"/usr/libexec "$root"/etc/ld.so.conf.d \
    "$root"/etc/ca-certificates "$root"/etc/ca-certificates.conf
  find "$root/etc/ssl/certs" -type l -delete

  cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
PASSWD
  cat > "$root/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
nonroot:x:65532:
GROUP
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$root/etc/nsswitch.conf"
  cp /etc/os-release "$root/etc/os-release"
  install -d -m 1777 "$root/tmp"
  install -d -m 0700 "$root/root"
  install -d -m 0700 -o 65532 -g 65532 "$root/home/nonroot"

  import "$root" "$runtime" \
    --change 'USER 65532:65532' \
    --change 'WORKDIR /home/nonroot' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt'
}

make_builder() {
  local root="$work/builder" sysroot version tag triple toolchain
  command -v debootstrap >/dev/null || die "debootstrap is missing (make setup installs it)"
  command -v rustc >/dev/null || die "no rustc on PATH: the builder stand-in copies this machine's toolchain"
  sysroot=$(rustc --print sysroot)
  version=$(rustc --version | cut -d' ' -f2)
  triple=$(rustc -vV | sed -n 's/^host: //p')
  # rust:1.95-slim-bookworm promises Rust 1.95.x; refuse to put another version under that name.
  tag=${builder##*:}
  case "$version" in
    "${tag%%-*}" | "${tag%%-*}".*) ;;
    *) die "this machine's rustc is $version, but the Dockerfile's builder is $builder" ;;
  esac

  say "building $builder: debootstrap bookworm (minbase, gcc, libc6-dev), Rust $version from $sysroot"
  debootstrap --variant=minbase --include=gcc,libc6-dev,ca-certificates \
    bookworm "$root" http://deb.debian.org/debian > "$work/debootstrap.log" 2>&1 || {
      tail -n 20 "$work/debootstrap.log" >&2
      die "debootstrap failed (full log above)"
    }
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc "$root"/usr/share/man "$root"/usr/share/info
  # The build fetches crates through this machine's network: trust the local CAs it trusts
  # (a TLS-inspecting egress proxy, for one). Only the builder gets them; no image ships them.
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates >/dev/null 2>&1 \
      || die "update-ca-certificates failed in the builder root"
  fi

  toolchain="$root/usr/local/rustup/toolchains/$version-$triple"
  mkdir -p "$toolchain" "$root/usr/local/cargo/bin"
  # Compiler, cargo and the standard library; no docs and no sources.
  cp -a "$sysroot"/bin "$sysroot"/lib "$sysroot"/libexec "$toolchain"/
  rm -rf "$toolchain"/lib/rustlib/src "$toolchain"/lib/rustlib/rustc-src
  for tool in cargo rustc rustdoc; do
    ln -s "../../rustup/toolchains/$version-$triple/bin/$tool" "$root/usr/local/cargo/bin/$tool"
  done

  import "$root" "$builder" \
    --change 'ENV RUSTUP_HOME=/usr/local/rustup' \
    --change 'ENV CARGO_HOME=/usr/local/cargo' \
    --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV RUST_VERSION=$version" \
    --change 'CMD ["bash"]'
}

for image in "$runtime" "$builder"; do
  if image_exists "$engine" "$image"; then
    say "$image is present ($(
      "$engine" image inspect --format '{{ index .Config.Labels "dev.natstack.stand-in" }}' "$image" 2>/dev/null \
        | sed 's/^true$/local stand-in/; s/^$/pulled/'
    )): kept"
    continue
  fi
  # Where a registry answers, the public image is the right one: never shadow it.
  if timeout 300 "$engine" pull --quiet "$image" >/dev/null 2>&1; then
    say "$image pulled"
    continue
  fi
  say "$image cannot be pulled: making a local stand-in"
  start=$SECONDS
  if [ "$image" = "$runtime" ]; then make_runtime; else make_builder; fi
  say "$image made in $((SECONDS - start)) s ($("$engine" image inspect --format '{{ .Size }}' "$image" | numfmt --to=iec))"
done
