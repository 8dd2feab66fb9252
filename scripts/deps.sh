#!/usr/bin/env bash
# Installs, from Debian's packages, whatever sluice's build, tests and demo need and this
# machine lacks. Does nothing when all is there. Needs root (or sudo) only to install.
set -euo pipefail

packages=(
  g++ cmake make pkg-config                                   # the toolchain
  libpq-dev libtbb-dev rapidjson-dev libboost-program-options-dev doctest-dev  # the libraries
  libspdlog-dev                                               # logging (--log-file, -v, -q)
  postgresql python3                                          # a server for the tests and the demo
  pgbouncer                                                   # tests/e2e/pooler_standby_test.py
  python3-yaml                                                # tests/e2e/deploy_manifest_test.py
  groff-base                                                  # tests/e2e/install_test.py reads the man page
  bc time                                                     # scripts/bench.sh
  clang-format                                                # scripts/test.sh: the C++ as .clang-format says
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "deps: need root to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
