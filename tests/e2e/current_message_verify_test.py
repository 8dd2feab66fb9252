#!/usr/bin/env python3
"""current_message_verify_test.py - `sluice verify|rejects|cleanup --revision 9a1b2c3d4e5f` (the
second job's housekeeping) against a real PostgreSQL, with tests/lib/current_message_oracle.py as the
reference and build/current_message_apply (the job's reader, rule and writer) writing the values.

    python3 tests/e2e/current_message_verify_test.py [--db URL] [--sluice build/sluice]
        [--apply build/current_message_apply] [--chats 300] [--seed 31] [--cases a,b]

A database at 856c5b02fb54 made by scripts/gen_current_message.py (the column present, some values
set) with the parity test's hand-written hard cases added. Cases:
  verify     before the values are written verify exits 6 and counts exactly the chats whose value
             the oracle would change; after, it exits 0 and --summary-json counts every chat (agree,
             rejected = the oracle's rejects); it wrote nothing; a value cleared by hand is named
             (exit 6); a SELECT-only role verifies (exit 0); while a migrate holds the lock, exit 75.
  housekeeping  after migrate --revision 9a1b2c3d4e5f, rejects exports exactly the oracle's rejected
             chats; cleanup refuses (exit 4, nothing dropped) while a range is not complete; once
             complete it exports the rejects and drops the job's tables (the fence table stays while
             the first job's state does); verify then agrees with --rejects-from the export and
             counts unrecorded rejects without it; cleanup again finds nothing.
Exits 1 on any difference, 2 when it cannot run.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LIB = os.path.join(os.path.dirname(HERE), "lib")
sys.path.insert(0, LIB)
sys.dont_write_bytecode = True
from helpers import (add_hard_cases, applied, expect, load_current_message_corpus, oracle, psql, psql_records,  # noqa: E402
                     run_cases, values)

REV = "9a1b2c3d4e5f"


def sluice(args, db, *argv, conninfo=None):
    """(exit status, stdout + stderr, the --summary-json object or None)."""
    with tempfile.TemporaryDirectory() as d:
        summary = os.path.join(d, "summary.json")
        reports = ["--progress", "none", "--summary-json", summary] if argv[0] in ("migrate", "verify") else []
        p = subprocess.run([args.sluice] + list(argv) + ["--revision", REV, "--db", conninfo or db.conninfo] + reports,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=d)
        out = p.stdout.decode(errors="replace")
        got = json.load(open(summary)) if os.path.exists(summary) else None
        return p.returncode, out, got


def as_user(conninfo, user):
    """The connection string with another user (the test server trusts local connections)."""
    if "://" not in conninfo:
        return conninfo + " user=" + user
    u = urllib.parse.urlsplit(conninfo)
    host = u.netloc.rsplit("@", 1)[-1]
    return urllib.parse.urlunsplit((u.scheme, user + "@" + host, u.path, u.query, u.fragment))


def prepared(args, db):
    """The database, and the oracle's view of it before the job."""
    load_current_message_corpus(db, argparse.Namespace(chats=args.chats, seed=args.seed), "json", True, os.devnull)
    add_hard_cases(db, True)
    return oracle(db)


def verify_counts(args, db, want, problems, when):
    rc, out, s = sluice(args, db, "verify")
    v = (s or {}).get("verify") or {}
    rejects = sum(1 for o in want.values() if "reject" in o)
    expect(rc == 0, "%s: verify exit %d, not 0: %s" % (when, rc, out[-600:]), problems)
    expect(v.get("chats") == len(want), "%s: verify counted %s chats, not %d" % (when, v.get("chats"), len(want)),
           problems)
    expect(v.get("rejected") == rejects and v.get("agree") == len(want) - rejects and v.get("disagree") == 0,
           "%s: verify counts %s; the oracle: %d rejected" % (when, v, rejects), problems)
    expect("agrees with the rule" in out, "%s: no verdict that it agrees: %s" % (when, out[-300:]), problems)


def case_verify(args, db):
    problems = []
    want = prepared(args, db)
    before = values(db)
    changes = [cid for cid, o in want.items() if "reject" not in o and before[cid] not in o["after"]]
    expect(changes, "the corpus has no chat whose value the job changes", problems)
    rc, out, s = sluice(args, db, "verify")
    v = (s or {}).get("verify") or {}
    expect(rc == 6, "before the job: verify exit %d, not 6: %s" % (rc, out[-600:]), problems)
    expect(v.get("disagree") == len(changes), "before the job: %s disagree, the oracle changes %d" % (
        v.get("disagree"), len(changes)), problems)
    expect(values(db) == before, "verify changed values", problems)
    applied(args, db, "--ranges", "3")
    verify_counts(args, db, want, problems, "after the job")
    written = values(db)
    cleared = changes[0]
    psql(db.conninfo, "-c", "UPDATE chat SET current_message_id = NULL WHERE id = '%s'" % cleared.replace("'", "''"))
    rc, out, s = sluice(args, db, "verify")
    expect(rc == 6 and json.dumps(cleared) in out and (s or {}).get("verify", {}).get("disagree") == 1,
           "a cleared value: exit %d, chat %s named: %s" % (rc, cleared, json.dumps(cleared) in out), problems)
    psql(db.conninfo, "-c", "UPDATE chat SET current_message_id = '%s' WHERE id = '%s'" % (
        written[cleared].replace("'", "''"), cleared.replace("'", "''")))
    psql(db.conninfo, "-c", "DROP ROLE IF EXISTS sluice_cm_reader; CREATE ROLE sluice_cm_reader LOGIN;"
         " GRANT SELECT ON chat, chat_message, sluice_current_message_reject TO sluice_cm_reader")
    try:
        rc, out, s = sluice(args, db, "verify", conninfo=as_user(db.conninfo, "sluice_cm_reader"))
        expect(rc == 0, "a SELECT-only role: verify exit %d: %s" % (rc, out[-600:]), problems)
        holder = subprocess.Popen(["psql", "-X", "-q", "-d", db.conninfo], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        holder.stdin.write(b"SELECT pg_advisory_lock(hashtextextended('sluice migrate public', 0));\n")
        holder.stdin.flush()
        try:
            for _ in range(50):
                if psql_records(db.conninfo, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") != ["0"]:
                    break
                subprocess.run(["sleep", "0.1"])
            rc, out, s = sluice(args, db, "verify")
            expect(rc == 75 and "a sluice migrate is running" in out, "lock held: exit %d: %s" % (rc, out[-300:]),
                   problems)
        finally:
            holder.stdin.close()
            holder.wait()
    finally:
        psql(db.conninfo, "-c", "DROP OWNED BY sluice_cm_reader; DROP ROLE sluice_cm_reader")
    return len(want), problems


def exists(db, table):
    return psql_records(db.conninfo, "SELECT to_regclass('%s') IS NOT NULL" % table) == ["t"]


def case_housekeeping(args, db):
    problems = []
    want = prepared(args, db)
    rejects = sorted(cid for cid, o in want.items() if "reject" in o)
    rc, out, _ = sluice(args, db, "migrate", "--lanes", "2")
    expect(rc == 0, "migrate exit %d: %s" % (rc, out[-600:]), problems)
    with tempfile.TemporaryDirectory() as d:
        export = os.path.join(d, "rejects.jsonl")
        rc, out, _ = sluice(args, db, "rejects", "--output", export)
        got = sorted(json.loads(line)["chat_id"] for line in open(export)) if rc == 0 else []
        expect(got == rejects, "rejects: exit %d, %d exported, the oracle %d: %s" % (
            rc, len(got), len(rejects), out[-300:]), problems)
        # A range not complete: the job is unfinished, and cleanup keeps everything.
        psql(db.conninfo, "-c", "UPDATE sluice_current_message_checkpoint SET complete = false"
             " WHERE range_no = (SELECT min(range_no) FROM sluice_current_message_checkpoint)")
        rc, out, _ = sluice(args, db, "cleanup")
        expect(rc == 4 and "has not finished" in out and exists(db, "sluice_current_message_reject"),
               "unfinished: cleanup exit %d: %s" % (rc, out[-300:]), problems)
        rc, out, _ = sluice(args, db, "migrate")
        expect(rc == 0, "the rerun that finishes: exit %d: %s" % (rc, out[-300:]), problems)
        psql(db.conninfo, "-c", "CREATE TABLE sluice_checkpoint (n int)")  # the first job's state, still there
        rc, out, _ = sluice(args, db, "cleanup", "--reject-file", os.path.join(d, "cleanup.jsonl"))
        kept = [t for t in ("sluice_current_message_reject", "sluice_current_message_checkpoint") if exists(db, t)]
        expect(rc == 0 and not kept and exists(db, "sluice_run") and exists(db, "sluice_checkpoint"),
               "cleanup exit %d, kept %s, the shared fence table and the first job's kept: %s" % (
                   rc, kept, out[-300:]), problems)
        exported = os.path.join(d, "cleanup.jsonl")
        cleaned = sorted(json.loads(line)["chat_id"] for line in open(exported)) if os.path.exists(exported) else []
        expect(cleaned == rejects, "cleanup's export: %d rejects, the oracle %d" % (len(cleaned), len(rejects)),
               problems)
        rc, out, s = sluice(args, db, "verify", "--rejects-from", os.path.join(d, "cleanup.jsonl"))
        expect(rc == 0 and (s or {}).get("verify", {}).get("rejected") == len(rejects),
               "verify --rejects-from after cleanup: exit %d: %s" % (rc, out[-400:]), problems)
        rc, out, _ = sluice(args, db, "verify")
        expect(rc == 6 and "unrecorded" in out, "verify without the rejects: exit %d" % rc, problems)
        rc, out, _ = sluice(args, db, "cleanup")
        expect(rc == 0 and "nothing of sluice's was there" in out, "cleanup again: exit %d: %s" % (
            rc, out[-300:]), problems)
    return len(want), problems


CASES = {"verify": case_verify, "housekeeping": case_housekeeping}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", default=os.environ.get("SLUICE_TEST_DB"),
                    help="the server to make databases on (default: $SLUICE_TEST_DB)")
    ap.add_argument("--sluice", default=os.path.join(ROOT, "build", "sluice"))
    ap.add_argument("--apply", default=os.path.join(ROOT, "build", "current_message_apply"))
    ap.add_argument("--chats", type=int, default=300)
    ap.add_argument("--seed", type=int, default=31)
    ap.add_argument("--cases", default=",".join(CASES))
    args = ap.parse_args()
    if not args.db:
        print("current message verify: SLUICE_TEST_DB is not set and no --db given")
        return 2
    return run_cases("current message verify", "sluice_cm_verify", args,
                     [(name, CASES[name]) for name in args.cases.split(",")], "every count the oracle's")

if __name__ == "__main__":
    sys.exit(main())
