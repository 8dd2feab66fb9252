# The benchmarks' database: a throwaway PostgreSQL (scripts/lib/pg.sh) holding database bench
# with the generator's chats; source this file from the repository root.
#   bench_db NAME CHATS [GENERATOR OPTIONS...]
#       starts a server in a new /tmp/sluice-NAME-pg.XXXXXX, makes $work (a directory the server
#       reads and writes: the exported rows go there), loads CHATS chats (seed 5, no awkward
#       documents, then the options given) and VACUUM ANALYZEs them; exports PGDATABASE=bench and
#       sets $url for sluice's --db. Both directories go, and the server stops, when the shell exits.
source "$(dirname "${BASH_SOURCE[0]}")/pg.sh"

bench_db() {
  local name=$1 chats=$2
  shift 2
  pgdir=$(mktemp -d "/tmp/sluice-$name-pg.XXXXXX")
  work=$(mktemp -d "/tmp/sluice-$name.XXXXXX")
  chmod 777 "$work"  # the server writes and reads the exported rows here
  export PGOPTIONS="-c client_min_messages=warning"
  trap 'pg_stop "$pgdir"; rm -rf "$work"' EXIT
  pg_start "$pgdir"
  psql -q -c "CREATE DATABASE bench"
  export PGDATABASE=bench
  url="postgresql://postgres@127.0.0.1:$PGPORT/bench"
  python3 scripts/gen_openwebui.py --ddl | psql -q -v ON_ERROR_STOP=1
  python3 scripts/gen_openwebui.py --chats "$chats" --seed 5 --no-awkward "$@" |
    psql -q -v ON_ERROR_STOP=1 -c '\copy chat FROM STDIN'
  psql -q -c "VACUUM ANALYZE chat"
}
