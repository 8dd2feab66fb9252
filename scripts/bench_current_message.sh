#!/usr/bin/env bash
# The second job (chat.current_message_id, alembic 9a1b2c3d4e5f) against its own floor, medians of
# --reps repetitions (scripts/bench.sh --revision 9a1b2c3d4e5f runs this):
#   read      the job's reading of chat with each chat's chat_message keys: the reader's query
#             (stages/current_message/chat_keys_reader.cpp), COPY ... TO '/dev/null', one session
#   update    the finished values applied in one statement: ADD COLUMN, COPY (id, value) into a
#             temporary table, one UPDATE ... FROM, one session
#   floor     read + update: what the job cannot go below on this server
#   sluice    sluice migrate --revision 9a1b2c3d4e5f --phases schema,backfill (1 lane, then K)
# On the database the operator has at that point: Open WebUI chats (scripts/gen_openwebui.py),
# migrated by sluice's first job, then taken to 856c5b02fb54 (gen_current_message.py --upgrade-ddl).
# Each step starts from that state (the column dropped, chat rewritten). Prints seconds, chats/s,
# the ratio to the floor and sluice's peak RSS, and checks that sluice's values are the floor's.
# Usage: scripts/bench_current_message.sh [--chats N] [--reps N] [--lanes K]
set -euo pipefail
cd "$(dirname "$0")/.."
chats=20000 reps=3 lanes=2
while [ $# -gt 0 ]; do
  case $1 in
    --chats) chats=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --lanes) lanes=$2; shift 2 ;;
    *) echo "bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "${BENCH_NO_BUILD:-}" ] || { bash scripts/deps.sh; bash scripts/build.sh; }

revision=9a1b2c3d4e5f
echo "bench: generating $chats chats, migrating them to chat_message, upgrading to 856c5b02fb54"
source scripts/lib/bench_db.sh
bench_db "$chats"
build/sluice migrate --db "$url" --progress none --stamp-alembic --reject-file "$work/rejects.jsonl" >/dev/null
python3 scripts/gen_current_message.py --upgrade-ddl | psql -q -v ON_ERROR_STOP=1
build/sluice cleanup --db "$url" --reject-file "$work/rejects.jsonl" >/dev/null  # the first job's state goes
psql -q -c "VACUUM ANALYZE chat" -c "VACUUM ANALYZE chat_message"
rows=$(psql -Atc "SELECT count(*) FROM chat")
messages=$(psql -Atc "SELECT count(*) FROM chat_message")
json_bytes=$(psql -Atc "SELECT sum(octet_length(chat::text)) FROM chat")

# The state before the job, again: no column (its values gone with a rewrite), no job state.
reset() {
  psql -q -c "DROP TABLE IF EXISTS sluice_current_message_checkpoint, sluice_current_message_reject, sluice_run" \
    -c "ALTER TABLE chat DROP COLUMN IF EXISTS current_message_id" -c "VACUUM FULL chat" -c "ANALYZE chat" \
    -c "UPDATE alembic_version SET version_num = '856c5b02fb54'"
}
with_column() { reset; psql -q -c "ALTER TABLE chat ADD COLUMN current_message_id TEXT"; }
job=(build/sluice migrate --revision "$revision" --db "$url" --progress none --phases schema,backfill
     --reject-file "$work/rejects.jsonl")

# The finished values, from one run of the job, exported once: the floor's UPDATE writes them.
reset
"${job[@]}" --lanes 1 >/dev/null
psql -q -c "COPY (SELECT id, current_message_id FROM chat WHERE current_message_id IS NOT NULL) TO '$work/values.txt'"
written=$(wc -l < "$work/values.txt")
psql -q -c "CREATE TABLE bench_expected AS SELECT id, current_message_id FROM chat"

# The reader's query over every chat, the column present (as after the schema phase).
read_query="SELECT c.id, c.current_message_id, c.chat::text, k.keys FROM chat c LEFT JOIN LATERAL
  (SELECT json_agg(json_build_array(m.id, m.parent_id, m.created_at) ORDER BY m.id COLLATE \"C\") AS keys
   FROM chat_message m WHERE m.chat_id = c.id) k ON true ORDER BY c.id COLLATE \"C\""

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A secs rss
run() {  # name, then the command; the median seconds of --reps, the peak RSS of the last
  local name=$1; shift
  local t=() r
  for ((i = 0; i < reps; i++)); do
    "$prepare"
    local start; start=$(now)
    /usr/bin/time -f '%M' -o "$work/rss" "$@" >/dev/null
    t+=("$(echo "$(now) - $start" | bc)")
    r=$(cat "$work/rss")
  done
  secs[$name]=$(printf '%s\n' "${t[@]}" | median)
  rss[$name]=$r
}

prepare=with_column
run read psql -q -v ON_ERROR_STOP=1 -c "SET jit = off" -c "COPY ($read_query) TO '/dev/null'"
prepare=reset
run update psql -q -v ON_ERROR_STOP=1 -c "ALTER TABLE chat ADD COLUMN current_message_id TEXT" \
  -c "CREATE TEMPORARY TABLE v (id text, value text)" -c "COPY v FROM '$work/values.txt'" \
  -c "UPDATE chat c SET current_message_id = v.value FROM v WHERE c.id = v.id"
run sluice1 "${job[@]}" --lanes 1
run sluice_lanes "${job[@]}" --lanes "$lanes"
differ=$(psql -Atc "SELECT count(*) FROM chat c JOIN bench_expected e USING (id)
                    WHERE c.current_message_id IS DISTINCT FROM e.current_message_id")

floor=$(echo "${secs[read]} + ${secs[update]}" | bc)
mb=$(echo "$json_bytes / 1048576" | bc -l)
echo
echo "bench: $rows chats ($messages chat_message rows, $(printf %.0f "$mb") MiB of chat JSON), $written values" \
  "written; medians of $reps; floor = read + update"
printf '%-46s %9s %10s %9s %10s\n' step seconds chats/s "x floor" "peak RSS"
line() {  # name label [peak RSS]
  local s=${secs[$1]:-$floor}
  printf '%-46s %9.2f %10.0f %9.2f %10s\n' "$2" "$s" "$(echo "$rows / $s" | bc -l)" "$(echo "$s / $floor" | bc -l)" "${3:-}"
}
line read "read chats + keys (the reader's query)"
line update "ADD COLUMN + COPY values + one UPDATE"
line floor "floor (read + update)"
line sluice1 "sluice migrate --revision $revision, 1 lane" "$((rss[sluice1] / 1024)) MiB"
line sluice_lanes "sluice migrate --revision $revision, $lanes lanes" "$((rss[sluice_lanes] / 1024)) MiB"
printf 'ratio: 1 lane %.2fx the floor, %s lanes %.2fx; values that differ from the first run: %s\n' \
  "$(echo "${secs[sluice1]} / $floor" | bc -l)" "$lanes" "$(echo "${secs[sluice_lanes]} / $floor" | bc -l)" "$differ"
[ "$differ" = 0 ]
