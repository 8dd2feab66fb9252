# sluice: a pipelined ETL engine for PostgreSQL, as a container image.
#
# Build:  docker build -t sluice .
# Usage:  docker run --rm -e DATABASE_URL=postgresql://… IMAGE migrate
#         docker run --rm IMAGE --help
#
# The process runs as the non-root user `sluice` (uid/gid 10001) in /work,
# which is where reject files land: mount a volume there to keep them, e.g.
#   docker run --rm -v "$PWD/rejects:/work" -e DATABASE_URL=… IMAGE migrate
# (the host directory must be writable by uid 10001).
#
# The two package lists below (ARG BUILD_PACKAGES= / ARG RUNTIME_PACKAGES=)
# are read by scripts/docker_replay.sh, which replays these steps in
# debootstrapped Debian roots where no container engine is available. Keep
# each list on its one ARG line, in double quotes.

# ---------------------------------------------------------------- build stage
FROM debian:bookworm AS build

# make: cmake only Recommends it, and recommends are not installed.
ARG BUILD_PACKAGES="g++ make cmake pkg-config libpq-dev libtbb-dev rapidjson-dev libboost-program-options-dev libspdlog-dev"

RUN apt-get update \
 && apt-get install -y --no-install-recommends ${BUILD_PACKAGES} \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# One COPY per directory: COPY of a directory copies its contents, so
# `COPY engine/ stages/ ./` would flatten them into /src.
COPY CMakeLists.txt ./
COPY engine/ engine/
COPY stages/ stages/
COPY config/ config/

RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSLUICE_BUILD_TESTS=OFF \
 && cmake --build build --target sluice -j"$(nproc)" \
 && strip build/sluice

# -------------------------------------------------------------- runtime stage
FROM debian:bookworm-slim

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="sluice" \
      org.opencontainers.image.description="Pipelined ETL engine for PostgreSQL (Open WebUI chat -> chat_message backfill)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.base.name="debian:bookworm-slim"

# Shared libraries of build/sluice besides libstdc++6/libc6, which the base has (libspdlog1.10
# pulls libfmt9 in by itself; it is named because sluice links it directly too).
ARG RUNTIME_PACKAGES="libpq5 libtbb12 libboost-program-options1.74.0 libspdlog1.10 libfmt9"

RUN apt-get update \
 && apt-get install -y --no-install-recommends ${RUNTIME_PACKAGES} \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --gid 10001 sluice \
 && useradd --uid 10001 --gid 10001 --home-dir /work --no-create-home \
            --shell /usr/sbin/nologin sluice \
 && mkdir -p /work \
 && chown sluice:sluice /work

COPY --from=build /src/build/sluice /usr/local/bin/sluice

# Numeric, so that Kubernetes' runAsNonRoot can verify it without a runAsUser
# (deploy/kubernetes/ sets runAsUser 10001 as well).
USER 10001:10001
WORKDIR /work
ENTRYPOINT ["sluice"]
CMD ["--help"]
