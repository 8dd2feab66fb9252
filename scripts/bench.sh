#!/usr/bin/env bash
# Benchmark against the server's own limit, in one run, medians of --reps repetitions:
#   floor      COPY of the finished chat_message rows (exported once) into the PK-only table
#              (sluice's build table with chat_message_pkey), over one session
#   floorK     the same rows in K parts, over K sessions at once, into the one table
#   read       COPY (SELECT id, user_id, chat::text FROM chat ...) TO /dev/null
#   indexes    the seven indexes built on the floor's table, one session
#   backfill   sluice migrate --phases backfill --lanes 1 (table created beforehand, untimed;
#              the backfill ends with the primary key)
#   backfillK  the same with --lanes K
#   full       sluice migrate (all phases: schema, backfill, indexes, constraints, publish)
#   insert     a hand-written INSERT ... SELECT over json_each, what a DBA would write
#   parse1/2   the transform alone: reader + 1 or 2 parse threads, writer discarding
#              (build/pipeline_bench); parseK: K lanes of readers, 2 parse threads
# and, with the server out of the loop, the transform from memory (build/transform_bench: one
# thread bare, then the pipeline at 1 and 2 parse threads). Prints seconds, messages/s, MB/s of
# chat JSON, the ratio to the floor, and sluice's peak RSS.
# Usage: scripts/bench.sh [--chats N] [--reps N] [--lanes K] [--threads N] [--big-chats K --big-chat-mb M]
#                         [--small-messages] [--skip-insert]
# --threads sets sluice's --parse-threads for the backfills and the full migrate (default: sluice's own).
# --small-messages: the generator's messages of about 600 bytes (its option of that name), where
# the cost per message counts more than the cost per byte.
# scripts/bench.sh --revision 9a1b2c3d4e5f [--chats N] [--reps N] [--lanes K]: the second job
# (chat.current_message_id) against its own floor instead (scripts/bench_current_message.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --revision ]; then
  case ${2:-} in
    9a1b2c3d4e5f) shift 2; exec bash scripts/bench_current_message.sh "$@" ;;
    8452d01d26d7) shift 2 ;;
    *) echo "bench: --revision must be 8452d01d26d7 or 9a1b2c3d4e5f" >&2; exit 2 ;;
  esac
fi
chats=20000 reps=3 big=0 big_mb=40 skip_insert=0 lanes=2 threads= shape=()
while [ $# -gt 0 ]; do
  case $1 in
    --chats) chats=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --lanes) lanes=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --big-chats) big=$2; shift 2 ;;
    --big-chat-mb) big_mb=$2; shift 2 ;;
    --small-messages) shape=(--small-messages); shift ;;
    --skip-insert) skip_insert=1; shift ;;  # it takes ~10x the floor: long at 200k chats
    *) echo "bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
bash scripts/deps.sh
bash scripts/build.sh

source scripts/lib/bench_db.sh
echo "bench: generating $chats chats (no awkward documents: the INSERT ... SELECT could not take them)"
bench_db "$chats" --big-chats "$big" --big-chat-mb "$big_mb" "${shape[@]}"
sluice() { build/sluice "$@" --db "$url" --progress none --reject-file "$work/rejects.jsonl"; }
json_bytes=$(psql -Atc "SELECT sum(octet_length(chat::text)) FROM chat WHERE NOT (user_id LIKE 'shared-%')")

reset() {
  psql -q -c "DROP TABLE IF EXISTS chat_message, sluice_chat_message, sluice_checkpoint, sluice_reject CASCADE" \
    -c "DROP VIEW IF EXISTS ix_chat_message_chat_id"
}
build_table=sluice_chat_message  # the table the schema phase makes; published as chat_message at the end
now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A secs rss cpu idle

# The finished rows, exported once.
reset; sluice migrate --phases schema,backfill >/dev/null
rows=$(psql -Atc "SELECT count(*) FROM $build_table")
psql -q -c "COPY $build_table TO '$work/rows.bin' (FORMAT binary)"
psql -q -c "COPY $build_table TO '$work/rows.txt'"

cpu_ticks() { awk '/^cpu / {print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6}' /proc/stat; }  # all, idle
run() {  # name, then the command; records the median seconds, and of the last rep the peak RSS,
         # the command's CPU seconds and how idle the machine's cores were
  local name=$1; shift
  local t=() r u s before after
  for ((i = 0; i < reps; i++)); do
    "$prepare"
    before=$(cpu_ticks)
    local start; start=$(now)
    /usr/bin/time -f '%M %U %S' -o "$work/rss" "$@" >/dev/null
    t+=("$(echo "$(now) - $start" | bc)")
    after=$(cpu_ticks)
    read -r r u s < "$work/rss"
  done
  secs[$name]=$(printf '%s\n' "${t[@]}" | median)
  rss[$name]=$r
  cpu[$name]=$(echo "$u + $s" | bc)
  idle[$name]=$(echo "$before $after" | awk '{printf "%.0f", 100 * ($4 - $2) / ($3 - $1)}')
}

prepare=schema_only
# The table as the schema phase leaves it, without the placeholder that holds one index name.
schema_only() { reset; sluice migrate --phases schema >/dev/null; psql -q -c "DROP VIEW ix_chat_message_chat_id"; }
# The floors' table: the build table with its primary key, as the backfill leaves it.
pk_only() { schema_only; psql -q -c "ALTER TABLE $build_table ADD CONSTRAINT chat_message_pkey PRIMARY KEY (id)"; }
split -n "l/$lanes" -d "$work/rows.txt" "$work/rows.part."
cat > "$work/copy_parts.sh" <<EOS  # the rows in K parts, over K sessions at once (a script: /usr/bin/time runs it)
status=0
for f in "$work"/rows.part.*; do psql -q -c "COPY $build_table FROM '\$f'" & done
for job in \$(jobs -p); do wait "\$job" || status=1; done
exit \$status
EOS
thread_opt=(); [ -n "$threads" ] && thread_opt=(--parse-threads "$threads")
migrate=(build/sluice migrate --db "$url" --progress none --reject-file "$work/rejects.jsonl" "${thread_opt[@]}")
prepare=pk_only
run floor psql -q -c "COPY $build_table FROM '$work/rows.txt'"
run floor_binary psql -q -c "COPY $build_table FROM '$work/rows.bin' (FORMAT binary)"
run floor_lanes bash "$work/copy_parts.sh"
prepare=schema_only
run backfill "${migrate[@]}" --phases backfill --lanes 1
run backfill_lanes "${migrate[@]}" --phases backfill --lanes "$lanes"
prepare=reset
run full "${migrate[@]}" --lanes 1
run full_lanes "${migrate[@]}" --lanes "$lanes"
prepare=true
run read psql -q -c "COPY (SELECT id, user_id, chat::text FROM chat WHERE NOT (user_id LIKE 'shared-%') ORDER BY id) TO '/dev/null'"
run parse1 build/pipeline_bench --db "$url" --threads 1
run parse2 build/pipeline_bench --db "$url" --threads 2
run parse_lanes build/pipeline_bench --db "$url" --threads 2 --lanes "$lanes"
floor_with_rows() { pk_only; psql -q -c "COPY $build_table FROM '$work/rows.txt'"; }
prepare=floor_with_rows
run indexes psql -q -v ON_ERROR_STOP=1 -c "
  CREATE INDEX ix_chat_message_chat_id ON $build_table (chat_id);
  CREATE INDEX ix_chat_message_user_id ON $build_table (user_id);
  CREATE INDEX ix_chat_message_model_id ON $build_table (model_id);
  CREATE INDEX ix_chat_message_created_at ON $build_table (created_at);
  CREATE INDEX chat_message_chat_parent_idx ON $build_table (chat_id, parent_id);
  CREATE INDEX chat_message_model_created_idx ON $build_table (model_id, created_at);
  CREATE INDEX chat_message_user_created_idx ON $build_table (user_id, created_at);"
prepare=schema_only
[ "$skip_insert" = 1 ] && run() { secs[$1]=0; }
run insert psql -q -v ON_ERROR_STOP=1 -c "
  INSERT INTO $build_table (id, chat_id, user_id, role, parent_id, content, output, model_id, files, sources,
                            embeds, done, status_history, error, usage, created_at, updated_at)
  SELECT c.id || '-' || m.key, c.id, c.user_id, m.value->>'role', m.value->>'parentId',
         coalesce(m.value->'content', 'null'), coalesce(m.value->'output', 'null'), m.value->>'model',
         coalesce(m.value->'files', 'null'), coalesce(m.value->'sources', 'null'), coalesce(m.value->'embeds', 'null'),
         coalesce((m.value->>'done')::boolean, true), coalesce(m.value->'statusHistory', 'null'),
         coalesce(m.value->'error', 'null'), coalesce(m.value->'usage', 'null'), t.ts, t.ts
  FROM chat c
  CROSS JOIN LATERAL json_each(CASE WHEN json_typeof(c.chat->'history'->'messages') = 'object'
                                    THEN c.chat->'history'->'messages' END) m
  CROSS JOIN LATERAL (SELECT coalesce(trunc((m.value->>'timestamp')::numeric)::bigint, extract(epoch FROM now())::bigint) AS ts) t
  WHERE NOT (c.user_id LIKE 'shared-%') AND json_typeof(c.chat) = 'object' AND json_typeof(m.value) = 'object'
    AND coalesce(m.value->>'role', '') NOT IN ('', 'false', '0')"

python3 scripts/gen_openwebui.py --chats "$chats" --seed 5 --no-awkward "${shape[@]}" --format jsonl > "$work/chats.jsonl" 2>/dev/null
transform=$(build/transform_bench --rounds "$reps" --threads 1,2 < "$work/chats.jsonl" | tail -3)
rm "$work/chats.jsonl"

floor=${secs[floor]}
[ "$(echo "${secs[floor_binary]} < $floor" | bc)" = 1 ] && floor=${secs[floor_binary]}
floor_full=$(echo "$floor + ${secs[indexes]}" | bc)
mb=$(echo "$json_bytes / 1048576" | bc -l)
echo
echo "bench: $chats chats, $rows messages, $(printf %.0f "$mb") MiB of chat JSON; medians of $reps; floor = the faster COPY"
printf '%-44s %9s %12s %9s %9s %10s\n' step seconds messages/s MiB/s "x floor" "peak RSS"
line() {  # name label [floor-to-compare]
  local s=${secs[$1]} f=${3:-$floor}
  printf '%-44s %9.2f %12.0f %9.1f %9.2f %10s\n' "$2" "$s" "$(echo "$rows / $s" | bc -l)" \
    "$(echo "$mb / $s" | bc -l)" "$(echo "$s / $f" | bc -l)" "${4:-}"
}
line floor "COPY text into PK-only table"
line floor_binary "COPY binary into PK-only table"
line floor_lanes "COPY text, $lanes sessions at once" "${secs[floor_lanes]}"
line read "read chat (COPY TO /dev/null)"
line indexes "build the 7 indexes (one session)"
line parse1 "reader + 1 parse thread, no writer"
line parse2 "reader + 2 parse threads, no writer"
line parse_lanes "$lanes lanes of readers + 2 parse threads"
line backfill "sluice backfill, 1 lane" "$floor" "$((rss[backfill] / 1024)) MiB"
line backfill_lanes "sluice backfill, $lanes lanes (x $lanes-session floor)" "${secs[floor_lanes]}" "$((rss[backfill_lanes] / 1024)) MiB"
line full "sluice migrate (all phases), 1 lane" "$floor_full" "$((rss[full] / 1024)) MiB"
line full_lanes "sluice migrate (all phases), $lanes lanes" "$floor_full" "$((rss[full_lanes] / 1024)) MiB"
echo "(full migrate is compared with floor + index build = ${floor_full}s)"
printf 'backfill: 1 lane %.2fx the one-session floor; %s lanes %.2fx the %s-session floor, %.2fx faster than 1 lane\n' \
  "$(echo "${secs[backfill]} / $floor" | bc -l)" "$lanes" "$(echo "${secs[backfill_lanes]} / ${secs[floor_lanes]}" | bc -l)" \
  "$lanes" "$(echo "${secs[backfill]} / ${secs[backfill_lanes]}" | bc -l)"
# On a host where the server shares the cores, the backfill is bound by the sum of CPU: the
# server reading chat, the server taking the COPY, and sluice itself.
printf 'backfill: sluice used %s CPU-s; the cores were %s%% idle (the floor: %s%%, one busy backend)\n' \
  "${cpu[backfill]}" "${idle[backfill]}" "${idle[floor_binary]}"
if [ "$skip_insert" = 0 ]; then
  line insert "INSERT ... SELECT json_each"
  printf 'full migrate vs INSERT ... SELECT: %.2fx faster\n' "$(echo "${secs[insert]} / ${secs[full]}" | bc -l)"
fi
printf 'reader + parsers: 2 threads run at %.2fx the rate of 1\n' "$(echo "${secs[parse1]} / ${secs[parse2]}" | bc -l)"
echo "$transform"
