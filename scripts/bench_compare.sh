#!/usr/bin/env bash
# Two or more sluice builds against one floor, in one run, alternating (floor, A, B, floor, A, B,
# ...), so that the machine's drift falls on all alike: the backfill (`migrate --phases schema,backfill`,
# one lane unless --lanes) of each against a text COPY of the finished rows into a table with only
# its primary key. Prints the median seconds of each and the ratios to the floor.
# Usage: scripts/bench_compare.sh A_BINARY B_BINARY [C_BINARY ...] [--chats N] [--reps N] [--lanes K]
#        [--small-messages]
# e.g. an old build: git worktree add /tmp/old b28693a && (cd /tmp/old && bash scripts/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
builds=()
while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do builds+=("$(realpath "$1")"); shift; done
[ ${#builds[@]} -ge 2 ] || { echo "bench_compare: give two or more sluice binaries" >&2; exit 2; }
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
source scripts/lib/bench_db.sh
bench_db "$chats" "${shape[@]}"

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
reset; backfill "${builds[-1]}"
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
: >"$work/f"
for ((k = 0; k < ${#builds[@]}; k++)); do : >"$work/$k"; done
for ((i = 0; i < reps; i++)); do
  floor >>"$work/f"
  for ((k = 0; k < ${#builds[@]}; k++)); do reset; secs backfill "${builds[k]}" >>"$work/$k"; done
done
f=$(median <"$work/f")
echo "bench_compare: $chats chats, $rows messages, $lanes lane(s), medians of $reps, alternating"
printf 'floor (text COPY, key only)  %6.2f s   runs: %s\n' "$f" "$(tr '\n' ' ' <"$work/f")"
for ((k = 0; k < ${#builds[@]}; k++)); do
  t=$(median <"$work/$k")
  printf '%s %-26s %6.2f s  %.2fx floor   runs: %s\n' "$(echo ABCDEFGHIJ | cut -c$((k + 1)))" "${builds[k]}" "$t" \
    "$(echo "$t / $f" | bc -l)" "$(tr '\n' ' ' <"$work/$k")"
done
