# syntax=docker/dockerfile:1.7
#
# One Dockerfile for every natstack image. BIN picks the binary:
#   docker build --build-arg BIN=gateway -t ghcr.io/natstack/gateway:0.1.0 .
# `make images` builds all five with an explicit version tag.

# The binaries this file may build. scripts/chart/check_dockerfile.py fails
# `make chart-test` if a name here is not a bin target of the workspace.
ARG BINARIES="operator gateway auth customers products"
ARG RUST_VERSION=1.95
ARG BIN

# ---- build: a release binary; registry and target dir live in BuildKit
# cache mounts, so rebuilding one image recompiles only what changed.
# Bookworm here and debian12 below: the binary links the builder's glibc.
FROM docker.io/library/rust:${RUST_VERSION}-slim-bookworm AS build
ARG BINARIES
ARG BIN
RUN case " ${BINARIES} " in \
      *" ${BIN} "*) [ -n "${BIN}" ] ;; \
      *) false ;; \
    esac || { echo "BIN must be one of: ${BINARIES} (got '${BIN}')" >&2; exit 1; }
WORKDIR /src
COPY . .
# sqlx query macros, if any, compile against the committed .sqlx data, never a live database.
ENV SQLX_OFFLINE=true CARGO_TERM_COLOR=never
RUN --mount=type=cache,id=natstack-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=natstack-target,target=/src/target,sharing=locked \
    cargo build --release --locked --package "${BIN}" --bin "${BIN}" \
 && install -D -m 0755 "target/release/${BIN}" /out/app

# ---- runtime: glibc + CA certificates only, no shell, no package manager.
# distroless "nonroot" runs as uid/gid 65532; the numeric USER lets
# Kubernetes verify runAsNonRoot without reading /etc/passwd.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
ARG BIN
LABEL org.opencontainers.image.title="natstack-${BIN}" \
      org.opencontainers.image.source="https://github.com/natstack/natstack" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/app /usr/local/bin/app
USER 65532:65532
# Health, readiness and metrics for every binary (HEALTH_ADDR); the gateway also serves 8080.
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/app"]
