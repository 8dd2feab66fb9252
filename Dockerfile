# sluice: a pipelined ETL engine for PostgreSQL, as a container image.
#
# Build:  bash scripts/docker_build.sh        (docker build with the version, revision and source
#         labels read from the sources; plain `docker build -t sluice .` works too, unlabelled)
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
# `COPY engine/ stages/ ./` would flatten them into /src. REVISION holds the commit in a `git
# archive` (export-subst), where there is no .git to ask.
COPY CMakeLists.txt REVISION LICENSE CHANGELOG.md README.md ./
COPY cmake/ cmake/
COPY engine/ engine/
COPY stages/ stages/
COPY config/ config/

# The version is CMakeLists.txt's alone. The revision, when the context has no filled-in REVISION:
# --build-arg REVISION=$(git rev-parse --short HEAD) (scripts/docker_build.sh passes it).
ARG REVISION
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSLUICE_BUILD_TESTS=OFF ${REVISION:+-DSLUICE_REVISION=$REVISION} \
 && cmake --build build -j"$(nproc)" \
 && cmake --install build --prefix /opt/sluice --strip \
 && /opt/sluice/bin/sluice --version

# -------------------------------------------------------------- runtime stage
FROM debian:bookworm-slim

# Labels cannot read the sources: whoever builds passes these (scripts/docker_build.sh reads the
# version from CMakeLists.txt, the revision from git or REVISION); unset, a label stays empty.
ARG VERSION
ARG REVISION
ARG SOURCE
LABEL org.opencontainers.image.title="sluice" \
      org.opencontainers.image.description="Pipelined ETL engine for PostgreSQL (Open WebUI chat -> chat_message backfill)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="MIT" \
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

COPY LICENSE /usr/share/doc/sluice/copyright
COPY --from=build /opt/sluice/bin/sluice /usr/local/bin/sluice

# Numeric, so that Kubernetes' runAsNonRoot can verify it without a runAsUser
# (deploy/kubernetes/ sets runAsUser 10001 as well).
USER 10001:10001
WORKDIR /work
ENTRYPOINT ["sluice"]
CMD ["--help"]
