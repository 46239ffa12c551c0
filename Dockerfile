# syntax=docker/dockerfile:1.7
#
# One Dockerfile for every natstack image. BIN picks the binary:
#   docker build --build-arg BIN=gateway -t ghcr.io/natstack/gateway:0.1.0 .
# `make images` builds all five, with docker or podman, under an explicit version tag.

# The binaries this file may build. dev/scripts/chart/check_dockerfile.py fails
# `make chart-test` if a name here is not a bin target of the workspace.
ARG BINARIES="operator gateway auth customers products"
# The public base images. Machines that cannot reach a registry build local
# stand-ins under these exact names (dev/scripts/images/base.sh).
ARG BUILDER_IMAGE=docker.io/library/rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot
ARG BIN

# ---- build: every binary in one compilation. Nothing here depends on BIN, so
# the engine's layer cache serves this stage to the other four images. The
# registry and target dir live in cache mounts: a rebuild after a source change
# recompiles only what changed. Bookworm here and debian12 below: the binaries
# link the builder's glibc.
FROM ${BUILDER_IMAGE} AS build
ARG BINARIES
# The gateway's allocator (jemalloc) is built by its crate with `make`, which the slim Rust
# image leaves out. Before the sources: this layer is cached across source changes.
RUN set -eu; \
    if ! command -v make >/dev/null; then \
      apt-get update -qq; \
      apt-get install -y -qq --no-install-recommends make >/dev/null; \
      rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /src
COPY . .
# sqlx query macros, if any, compile against the committed .sqlx data, never a live database.
ENV SQLX_OFFLINE=true CARGO_TERM_COLOR=never
# Cargo decides freshness by mtime, and the shared target cache may hold artifacts built later
# than these sources' timestamps (another checkout, a branch switch): the `find ... touch`
# stamps the workspace's sources so they always rebuild; dependencies stay cached.
RUN --mount=type=cache,id=natstack-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=natstack-target,target=/src/target,sharing=locked \
    set -eu; \
    find /src -path /src/target -prune -o -type f -exec touch {} +; \
    selection=""; \
    for bin in ${BINARIES}; do selection="${selection} --package ${bin} --bin ${bin}"; done; \
    cargo build --release --locked ${selection}; \
    for bin in ${BINARIES}; do install -D -m 0755 "target/release/${bin}" "/out/${bin}"; done

# ---- pick: the one binary BIN names; the only stage that depends on BIN.
FROM build AS pick
ARG BINARIES
ARG BIN
RUN case " ${BINARIES} " in \
      *" ${BIN} "*) [ -n "${BIN}" ] ;; \
      *) false ;; \
    esac || { echo "BIN must be one of: ${BINARIES} (got '${BIN}')" >&2; exit 1; }; \
    install -D -m 0755 "/out/${BIN}" /pick/app

# ---- runtime: glibc, libgcc and CA certificates only; no shell, no package
# manager. distroless "nonroot" runs as uid/gid 65532; the numeric USER lets
# Kubernetes verify runAsNonRoot without reading /etc/passwd.
FROM ${RUNTIME_IMAGE} AS runtime
ARG BIN
LABEL org.opencontainers.image.title="natstack-${BIN}" \
      org.opencontainers.image.source="https://github.com/natstack/natstack" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=pick /pick/app /usr/local/bin/app
USER 65532:65532
# Health, readiness and metrics for every binary (HEALTH_ADDR); the gateway also serves 8080.
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/app"]
