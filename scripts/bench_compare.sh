#!/usr/bin/env bash
# Two sluice builds against one floor, in one run, alternating (floor, A, B, floor, A, B, ...), so
# that the machine's drift falls on both alike: the backfill (`migrate --phases schema,backfill`,
# one lane unless --lanes) of each against a text COPY of the finished rows into a table with only
# its primary key. Prints the median seconds of each and the ratios to the floor.
# Usage: scripts/bench_compare.sh A_BINARY B_BINARY [--chats N] [--reps N] [--lanes K] [--small-messages]
# e.g. an old build: git worktree add /tmp/old b28693a && (cd /tmp/old && bash scripts/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
a=$(realpath "$1") b=$(realpath "$2"); shift 2
chats=20000 reps=5 lanes=1 shape=()
while [ $# -gt 0 ]; do
  case $1 in
    --chats) chats=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --lanes) lanes=$2; shift 2 ;;
    --small-messages) shape=(--small-messages); shift ;;
    *) echo "bench_compare: unknown argument $1" >&2; exit 2 ;;
  esac
done
source scripts/lib/pg.sh
pg_bench
python3 scripts/gen_openwebui.py --ddl | psql -q -v ON_ERROR_STOP=1
python3 scripts/gen_openwebui.py --chats "$chats" --seed 5 --no-awkward "${shape[@]}" |
  psql -q -v ON_ERROR_STOP=1 -c '\copy chat FROM STDIN'
psql -q -c "VACUUM ANALYZE chat"

reset() {
  psql -q -c "DROP TABLE IF EXISTS chat_message, sluice_chat_message, sluice_checkpoint, sluice_reject, sluice_run CASCADE" \
    -c "DROP VIEW IF EXISTS ix_chat_message_chat_id"
}
backfill() {  # binary: the schema and backfill phases, timed whole as the issue measures them
  local lane_opt=(); [ "$lanes" != 1 ] && lane_opt=(--lanes "$lanes")  # builds before lanes lack the option
  "$1" migrate --db "$url" --progress none --phases schema,backfill "${lane_opt[@]}" \
    --reject-file "$work/rejects-$RANDOM.jsonl" >/dev/null
}
built() { psql -Atc "SELECT relname FROM pg_class WHERE relname IN ('sluice_chat_message', 'chat_message') AND relkind = 'r' LIMIT 1"; }
reset; backfill "$b"
table=$(built)
rows=$(psql -Atc "SELECT count(*) FROM $table")
psql -q -c "COPY $table TO '$work/rows.txt'"
psql -q -c "CREATE TABLE floor_rows (LIKE $table)"
secs() { local s; s=$(date +%s.%N); "$@"; echo "$(date +%s.%N) - $s" | bc; }
floor() {
  psql -q -c "DROP TABLE IF EXISTS floor_copy" -c "CREATE TABLE floor_copy (LIKE floor_rows)" \
    -c "ALTER TABLE floor_copy ADD PRIMARY KEY (id)"
  secs psql -q -c "COPY floor_copy FROM '$work/rows.txt'"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: >"$work/f"; : >"$work/a"; : >"$work/b"
for ((i = 0; i < reps; i++)); do
  floor >>"$work/f"
  reset; secs backfill "$a" >>"$work/a"
  reset; secs backfill "$b" >>"$work/b"
done
f=$(median <"$work/f") ta=$(median <"$work/a") tb=$(median <"$work/b")
echo "bench_compare: $chats chats, $rows messages, $lanes lane(s), medians of $reps, alternating"
printf 'floor (text COPY, key only)  %6.2f s   runs: %s\n' "$f" "$(tr '\n' ' ' <"$work/f")"
printf 'A %-26s %6.2f s  %.2fx floor   runs: %s\n' "$a" "$ta" \
  "$(echo "$ta / $f" | bc -l)" "$(tr '\n' ' ' <"$work/a")"
printf 'B %-26s %6.2f s  %.2fx floor   runs: %s\n' "$b" "$tb" \
  "$(echo "$tb / $f" | bc -l)" "$(tr '\n' ' ' <"$work/b")"
