#!/usr/bin/env bash
# scripts/lib/pg.sh's pg_stop in an EXIT trap stops the server and removes its directory also when
# the script exits on a failure (as scripts/test.sh does when a suite fails): a bare `return` in
# pg_bindir once gave the failure's status there, and the server stayed up.
set -uo pipefail
cd "$(dirname "$0")/../.."
dir=$(mktemp -d /tmp/sluice-pg-stop-test.XXXXXX)
rmdir "$dir"
bash -c 'set -euo pipefail; source scripts/lib/pg.sh; trap "pg_stop $1" EXIT; pg_start $1; false' _ "$dir"
if [ -e "$dir" ] || pgrep -f -- "-D $dir/data" >/dev/null; then
  echo "pg_stop after a failing script: the server or $dir is still there"
  pgrep -f -- "-D $dir/data" >/dev/null && source scripts/lib/pg.sh && pg_stop "$dir"
  exit 1
fi
echo "pg_stop after a failing script: server stopped, directory removed"
