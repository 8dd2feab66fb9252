#!/usr/bin/env python3
"""runbook_test.py - the README's runbook from an old Open WebUI to v0.11, end to end on a
generated database, with 1 and then 3 lanes for the second job:

  (a) sluice migrate --stamp-alembic                       374d2f66af06 -> 8452d01d26d7
  (b) Open WebUI's own alembic up to 856c5b02fb54          here: the test's own DDL, the state
      those migrations leave, limited to what the job reads or checks
      (scripts/gen_current_message.py --upgrade-ddl)
  (c) sluice migrate --revision 9a1b2c3d4e5f --stamp-alembic  856c5b02fb54 -> 9a1b2c3d4e5f
  then sluice verify --revision 9a1b2c3d4e5f agrees, every chat's current_message_id is one the
  oracle (tests/lib/current_message_oracle.py, on the state after (b)) accepts, alembic_version is
  9a1b2c3d4e5f, and (a) and (c) run again say "already migrated" and exit 0.

    python3 tests/e2e/runbook_test.py [--db URL] [--sluice build/sluice] [--chats 120] [--seed 13]

Exits 1 on any difference, 2 when it cannot run.
"""
import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LIB = os.path.join(os.path.dirname(HERE), "lib")
sys.path.insert(0, LIB)
sys.dont_write_bytecode = True
from helpers import load_corpus, oracle, psql, psql_records, run_cases, values, wrong_values  # noqa: E402

UPGRADE = [sys.executable, os.path.join(ROOT, "scripts", "gen_current_message.py"), "--upgrade-ddl"]


def sluice(args, db, *argv):
    p = subprocess.run([args.sluice, "migrate", "--db", db.conninfo, "--progress", "none"] + list(argv),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=args.work)
    return p.returncode, p.stdout.decode(errors="replace")


def alembic(db):
    return psql_records(db.conninfo, "SELECT version_num FROM alembic_version")


def step(args, db, problems, name, argv, revision, says="done"):
    rc, out = sluice(args, db, *argv)
    if rc != 0 or says not in out.splitlines()[-1] or alembic(db) != [revision]:
        problems.append("%s: exit %d, alembic %s, last line %r" % (name, rc, alembic(db), out.strip()[-400:]))


def runbook(lanes):
    def case(args, db):
        problems = []
        load_corpus(db, argparse.Namespace(chats=args.chats, seed=args.seed), "json")
        step(args, db, problems, "(a)", ["--stamp-alembic"], "8452d01d26d7")
        psql(db.conninfo, "-c", subprocess.run(UPGRADE, stdout=subprocess.PIPE, check=True).stdout.decode())
        want = oracle(db)
        job = ["--revision", "9a1b2c3d4e5f", "--stamp-alembic", "--lanes", str(lanes)]
        step(args, db, problems, "(c)", job, "9a1b2c3d4e5f")
        p = subprocess.run([args.sluice, "verify", "--revision", "9a1b2c3d4e5f", "--db", db.conninfo, "--progress",
                            "none"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            problems.append("verify: exit %d: %s" % (p.returncode, p.stdout.decode(errors="replace")[-400:]))
        problems += wrong_values(want, values(db), want)
        changed = sum(1 for o in want.values() if o["after"] != [None])
        if changed < len(want) // 2:
            problems.append("only %d of %d chats get a value: the corpus does not exercise the job" % (
                changed, len(want)))
        step(args, db, problems, "(a) again", ["--stamp-alembic"], "9a1b2c3d4e5f", "already migrated")
        step(args, db, problems, "(c) again", job, "9a1b2c3d4e5f", "already migrated")
        return len(want), problems
    return case


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", default=os.environ.get("SLUICE_TEST_DB"),
                    help="the server to make databases on (default: $SLUICE_TEST_DB)")
    ap.add_argument("--sluice", default=os.path.join(ROOT, "build", "sluice"))
    ap.add_argument("--chats", type=int, default=120)
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    if not args.db:
        print("runbook: SLUICE_TEST_DB is not set and no --db given")
        return 2
    with tempfile.TemporaryDirectory() as work:  # the reject exports land here
        args.work = work
        return run_cases("runbook", "sluice_runbook", args, [
            ("old version to v0.11, the second job with 1 lane", runbook(1)),
            ("old version to v0.11, the second job with 3 lanes", runbook(3))], "every step as the README says")


if __name__ == "__main__":
    sys.exit(main())
