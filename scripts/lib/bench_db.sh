# The benchmarks' database: a throwaway PostgreSQL (scripts/lib/pg.sh's pg_bench) holding database
# bench with the generator's chats; source this file from the repository root.
#   bench_db CHATS [GENERATOR OPTIONS...]
#       starts the server (pg_bench: $pgdir, $work, $url, PGDATABASE=bench, all gone at exit),
#       loads CHATS chats (seed 5, no awkward documents, then the options given) and VACUUM
#       ANALYZEs them.
source "$(dirname "${BASH_SOURCE[0]}")/pg.sh"

bench_db() {
  local chats=$1
  shift
  pg_bench
  python3 scripts/gen_openwebui.py --ddl | psql -q -v ON_ERROR_STOP=1
  python3 scripts/gen_openwebui.py --chats "$chats" --seed 5 --no-awkward "$@" |
    psql -q -v ON_ERROR_STOP=1 -c '\copy chat FROM STDIN'
  psql -q -c "VACUUM ANALYZE chat"
}
