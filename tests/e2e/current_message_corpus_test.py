#!/usr/bin/env python3
"""current_message_corpus_test.py - scripts/gen_current_message.py loads a database at Open
WebUI's 856c5b02fb54 into a real PostgreSQL, and tests/lib/current_message_oracle.py, reading it
back, gives every chat what the generator built it to give.

    python3 tests/e2e/current_message_corpus_test.py [--db URL] [--chats 1500] [--seed 5]

Three databases on the server SLUICE_TEST_DB names (or --db): chat as json, as jsonb, and json
without the current_message_id column (the state Open WebUI's own migrations leave).  For each:
the DDL and the data load; alembic_version is 856c5b02fb54; every chat_message row has its chat;
the oracle (--db) and the generator's --expect file agree chat by chat (the same results, the
same rejects), and the oracle's summary shows both paths, ties, writes and rejects.  A fourth
database checks that --upgrade-ddl takes the 8452d01d26d7 state (gen_openwebui.py's chat plus
the chat_message table of SPEC section 3) to the same columns as --ddl.  Prints one line per
database; exits 1 on any difference, 2 when it cannot run.
"""
import argparse
import json
import os
import re
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LIB = os.path.join(os.path.dirname(HERE), "lib")
sys.path.insert(0, LIB)
sys.dont_write_bytecode = True
from helpers import Database, Setup, load_current_message_corpus, psql, psql_records, run  # noqa: E402

GENERATOR = os.path.join(ROOT, "scripts", "gen_current_message.py")
ORACLE = os.path.join(LIB, "current_message_oracle.py")
OPENWEBUI = os.path.join(ROOT, "scripts", "gen_openwebui.py")
# sluice's first job's table (SPEC section 3), the 8452d01d26d7 state --upgrade-ddl starts from
CHAT_MESSAGE_8452 = """CREATE TABLE chat_message (id TEXT PRIMARY KEY, chat_id TEXT NOT NULL
  REFERENCES chat (id) ON DELETE CASCADE, user_id TEXT, role TEXT NOT NULL, parent_id TEXT,
  content JSON, output JSON, model_id TEXT, files JSON, sources JSON, embeds JSON, done BOOLEAN,
  status_history JSON, error JSON, usage JSON, created_at BIGINT, updated_at BIGINT);
UPDATE alembic_version SET version_num = '8452d01d26d7';"""
# the columns the job reads or checks, with their types (chat.id: varchar in Open WebUI's own
# databases, text in gen_openwebui.py's; either is fine)
COLUMNS = ("SELECT string_agg(table_name || '.' || column_name || ' ' || CASE WHEN"
           " column_name = 'id' THEN 'id' ELSE data_type END, ', ' ORDER BY 1) FROM"
           " information_schema.columns WHERE table_schema = 'public' AND"
           " (table_name, column_name) IN (('chat', 'id'), ('chat', 'chat'), ('chat', 'tasks'),"
           " ('chat', 'summary'), ('chat', 'last_read_at'), ('chat', 'current_message_id'),"
           " ('chat_message', 'id'), ('chat_message', 'chat_id'), ('chat_message', 'parent_id'),"
           " ('chat_message', 'created_at'), ('chat_message', 'context_summary'),"
           " ('chat_message', 'meta'))")


def compare(db, expect):
    """-> (differences, the oracle's summary line)."""
    out = run([sys.executable, ORACLE, "--db", db.conninfo])
    got = {}
    for line in out.stdout.decode().splitlines():
        o = json.loads(line)
        got[o["id"]] = o
    diffs = []
    with open(expect, encoding="utf-8") as f:
        for line in f:
            e = json.loads(line)
            o = got.pop(e["id"], None)
            if o is None:
                diffs.append("%s (%s): not in the oracle's output" % (e["id"], e["kind"]))
            elif e.get("reject", False) != ("reject" in o) or e.get("results", []) != o.get("results", []):
                diffs.append("%s (%s): built for %s, oracle says %s" % (
                    e["id"], e["kind"], e.get("results", "a reject"), o.get("results", o.get("reject"))))
    diffs += ["%s: not generated" % cid for cid in got]
    return diffs, out.stderr.decode().strip()


def check_summary(summary):
    n = {k: int(v) for v, k in re.findall(r"(\d+) (chats|path A|path B|writes|ties|rejects)", summary)}
    return ["the corpus has no %s" % k for k in ("path A", "path B", "writes", "ties", "rejects")
            if not n.get(k)]


def check_state(db, args, chat_type, column):
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as expect:
        load_current_message_corpus(db, args, chat_type, column, expect.name)
        problems = []
        if psql_records(db.conninfo, "SELECT version_num FROM alembic_version") != ["856c5b02fb54"]:
            problems.append("alembic_version is not 856c5b02fb54")
        if psql_records(db.conninfo, "SELECT count(*) FROM chat_message m WHERE NOT EXISTS"
                                     " (SELECT 1 FROM chat c WHERE c.id = m.chat_id)") != ["0"]:
            problems.append("chat_message rows without their chat")
        diffs, summary = compare(db, expect.name)
        return problems + diffs + check_summary(summary), summary


def check_upgrade(server):
    """--upgrade-ddl on the 8452d01d26d7 state gives the columns --ddl creates."""
    with Database(server, "sluice_cm_ddl") as d1, Database(server, "sluice_cm_upgrade") as d2:
        psql(d1.conninfo, "-c", run([sys.executable, GENERATOR, "--ddl"]).stdout.decode())
        psql(d2.conninfo, "-c", run([sys.executable, OPENWEBUI, "--ddl"]).stdout.decode())
        psql(d2.conninfo, "-c", CHAT_MESSAGE_8452)
        psql(d2.conninfo, "-c", "INSERT INTO chat (id, user_id, updated_at) VALUES"
                                " ('a', 'u', 5), ('s', 'shared-a', 6);"
                                " INSERT INTO chat_message (id, chat_id, role) VALUES"
                                " ('a-1', 'a', 'user'), ('s-1', 's', 'user')")
        psql(d2.conninfo, "-c", run([sys.executable, GENERATOR, "--upgrade-ddl"]).stdout.decode())
        psql(d2.conninfo, "-c", "ALTER TABLE chat ADD COLUMN current_message_id text")
        want, got = psql_records(d1.conninfo, COLUMNS), psql_records(d2.conninfo, COLUMNS)
        problems = [] if want == got else ["columns: --ddl gives %s, --upgrade-ddl %s" % (want, got)]
        left = psql_records(d2.conninfo, "SELECT string_agg(id, ',' ORDER BY id) FROM chat_message"
                                         " UNION ALL SELECT version_num FROM alembic_version"
                                         " UNION ALL SELECT last_read_at::text FROM chat")
        if left != ["a-1", "856c5b02fb54", "5"]:
            problems.append("after --upgrade-ddl: %s (want a-1, 856c5b02fb54, 5)" % left)
        return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", default=os.environ.get("SLUICE_TEST_DB"),
                    help="the server to make databases on (default: $SLUICE_TEST_DB)")
    ap.add_argument("--chats", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    if not args.db:
        print("current message corpus: SLUICE_TEST_DB is not set and no --db given")
        return 2
    failed = False
    try:
        for chat_type, column in (("json", True), ("jsonb", True), ("json", False)):
            name = "sluice_cm_%s%s" % (chat_type, "" if column else "_nocolumn")
            with Database(args.db, name) as db:
                problems, summary = check_state(db, args, chat_type, column)
            print("%s: %s; %d problems" % (name, summary, len(problems)))
            for p in problems[:10]:
                print("  " + p)
            failed |= bool(problems)
        problems = check_upgrade(args.db)
        print("upgrade-ddl: %d problems" % len(problems))
        for p in problems:
            print("  " + p)
        failed |= bool(problems)
    except Setup as e:
        print("current message corpus: cannot run: %s" % e)
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
