#!/usr/bin/env bash
# docker_build.sh [docker build options...]: builds the image with its OCI labels filled in from
# the sources, which the Dockerfile cannot read for itself: the version from CMakeLists.txt's
# project() (the one place it is written), the revision from git (or, in a `git archive`, from the
# REVISION file it filled), the source from git's origin remote if there is one.
#   bash scripts/docker_build.sh -t registry.example.com/sluice:TAG   (also tags sluice:VERSION and sluice)
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^project(sluice VERSION \([0-9][0-9.]*\).*/\1/p' CMakeLists.txt)
[ -n "$version" ] || { echo "docker_build: no project(sluice VERSION ...) in CMakeLists.txt" >&2; exit 1; }
revision=$(head -n1 REVISION)
if ! [[ $revision =~ ^[0-9a-f]+$ ]]; then
  revision=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  # Uncommitted changes are not in that commit: say so rather than mislabel the image.
  if [ "$revision" != unknown ] && ! git diff --quiet HEAD 2>/dev/null; then revision="$revision-dirty"; fi
fi
source=$(git remote get-url origin 2>/dev/null || true)

echo "docker_build: sluice $version, revision $revision${source:+, source $source}"
exec docker build --build-arg VERSION="$version" --build-arg REVISION="$revision" \
  ${source:+--build-arg SOURCE="$source"} -t "sluice:$version" -t sluice "$@" .
