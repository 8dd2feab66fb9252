#!/usr/bin/env bash
# Configures and builds sluice into build/ (build/sluice). In CI, warnings are errors.
set -euo pipefail
cd "$(dirname "$0")/.."
werror=OFF
[ -n "${CI:-}" ] && werror=ON
cmake -S . -B build -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" -DSLUICE_WERROR="$werror" >/dev/null
cmake --build build -j"$(nproc)" 2>&1 | grep -vE '^\[ *[0-9]+%\]|^gmake|^make' || true
test -x build/sluice || { echo "build: build/sluice was not built" >&2; exit 1; }
