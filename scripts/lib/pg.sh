# A throwaway PostgreSQL for tests, the demo and benchmarks; source this file.
#   pg_start DIR   initdb into DIR/data, start on a private socket dir and a free port;
#                  exports PGHOST PGPORT PGUSER PG_DATA_DIR and SLUICE_TEST_DB (a libpq URL)
#   pg_stop DIR    stop the server and remove DIR
#   pg_bench       for a benchmark: a server and a work directory of their own (both gone at
#                  exit), database `bench`; sets pgdir, work and url, exports PGDATABASE
# initdb refuses to run as root: as root the server runs as the `postgres` user.

pg_bindir() {
  # `return 0`, not `return`: in an EXIT trap a bare return gives the status the script exited
  # with, so after a failure pg_stop took the path as not found and left the server running.
  if [ -n "${PG_BINDIR:-}" ]; then echo "$PG_BINDIR"; return 0; fi
  local d
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && { echo "$d"; return 0; }; done
  command -v initdb >/dev/null && dirname "$(command -v initdb)" && return 0
  echo "pg.sh: no PostgreSQL server binaries (initdb) found; install postgresql" >&2
  return 1
}

pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_start() {
  local dir=$1 bin port
  bin=$(pg_bindir) || return 1
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
  pg_as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; return 1; }
  port=$(pg_free_port)
  # Durability is off: the server is thrown away, and the tests measure sluice, not fsync.
  pg_as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-k $dir -p $port -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=50" \
    start >/dev/null || { cat "$dir/server.log" >&2; return 1; }
  export PGHOST=$dir PGPORT=$port PGUSER=postgres PG_DATA_DIR=$dir/data
  export SLUICE_TEST_DB="postgresql://postgres@127.0.0.1:$port/postgres"
}

pg_stop() {
  local dir=$1 bin
  bin=$(pg_bindir) || return 0
  [ -d "$dir/data" ] && pg_as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1
  rm -rf "$dir"
}

pg_bench() {
  pgdir=$(mktemp -d /tmp/sluice-bench-pg.XXXXXX)
  work=$(mktemp -d /tmp/sluice-bench.XXXXXX)
  chmod 777 "$work"  # the server writes and reads files here
  export PGOPTIONS="-c client_min_messages=warning"
  trap 'pg_stop "$pgdir"; rm -rf "$work"' EXIT
  pg_start "$pgdir"
  psql -q -c "CREATE DATABASE bench"
  export PGDATABASE=bench
  url="postgresql://postgres@127.0.0.1:$PGPORT/bench"
}
