#!/usr/bin/env bash
# The demo, on a fresh machine: installs what is missing, builds sluice, starts a throwaway
# PostgreSQL, fills it with generated Open WebUI data (DEMO_CHATS chats, default 20000,
# awkward documents included), runs `sluice migrate`, shows a few resulting rows, cleans up.
set -euo pipefail
cd "$(dirname "$0")/.."
chats=${DEMO_CHATS:-20000}
bash scripts/deps.sh
bash scripts/build.sh

source scripts/lib/pg.sh
dir=$(mktemp -d /tmp/sluice-demo.XXXXXX)
pgdir=$(mktemp -d /tmp/sluice-demo-pg.XXXXXX)
trap 'pg_stop "$pgdir"; rm -rf "$dir"' EXIT
pg_start "$pgdir"
psql -q -c "CREATE DATABASE openwebui"
url="postgresql://postgres@127.0.0.1:$PGPORT/openwebui"

echo "demo: generating $chats Open WebUI chats into a throwaway PostgreSQL"
python3 scripts/gen_openwebui.py --ddl | psql -q -v ON_ERROR_STOP=1 -d openwebui
python3 scripts/gen_openwebui.py --chats "$chats" --seed 42 |
  psql -q -v ON_ERROR_STOP=1 -d openwebui -c '\copy chat FROM STDIN'
psql -At -d openwebui -c "SELECT 'demo: chat table holds ' || count(*) || ' chats, ' ||
  pg_size_pretty(pg_total_relation_size('chat')) FROM chat"

echo
echo "\$ sluice migrate --db $url"
status=0
build/sluice migrate --db "$url" --reject-file "$dir/rejects.jsonl" || status=$?

echo
echo "demo: a few of the rows sluice wrote"
psql -d openwebui -c "SELECT id, role, model_id, left(content::text, 40) AS content, done, created_at
  FROM chat_message ORDER BY id LIMIT 5"
if [ -s "$dir/rejects.jsonl" ]; then
  echo "demo: the first rejected message (the generator plants some that cannot be stored)"
  head -c 400 "$dir/rejects.jsonl"; echo
fi
exit "$status"
