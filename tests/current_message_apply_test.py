#!/usr/bin/env python3
"""current_message_apply_test.py - the second job's reader, rule and writer against a real
PostgreSQL (build/current_message_apply: stages/current_message/chat_keys_reader.h, rule.h,
value_writer.h), compared with tests/current_message_oracle.py.

    python3 tests/current_message_apply_test.py [--db URL] [--apply build/current_message_apply]
        [--chats 800] [--seed 21]

Two databases at 856c5b02fb54 made by scripts/gen_current_message.py --ddl and --chats, with the
parity test's hand-written hard cases added:
  one range (no current_message_id column yet): every chat's value afterwards is one the oracle
      accepts and the rejects table holds exactly the oracle's rejects; the same range written
      again (its checkpoint forgotten) changes no row and duplicates no reject.
  three ranges (the column present, some values set): range 1's write fails after its UPDATE ran;
      range 0 is applied, ranges 1 and 2 are exactly as before, with no rejects and no
      checkpoint; the rerun finishes ranges 1 and 2 and the result is the oracle's.
Exits 1 on any difference, 2 when it cannot run.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
from helpers import Database, Setup, add_hard_cases, load_current_message_corpus, psql_records, run  # noqa: E402

ORACLE = os.path.join(HERE, "current_message_oracle.py")


def oracle(db):
    """{chat id: the oracle's line} for the database as it is now (before the job)."""
    out = run([sys.executable, ORACLE, "--db", db.conninfo]).stdout.decode()
    return {o["id"]: o for o in map(json.loads, out.splitlines())}


def values(db):
    return dict(json.loads(r) for r in psql_records(
        db.conninfo, "SELECT json_build_array(id, current_message_id)::text FROM chat"))


def rejects(db):
    return sorted(psql_records(db.conninfo, "SELECT chat_id FROM sluice_current_message_reject"))


def apply(args, db, *extra):
    p = subprocess.run([args.apply, db.conninfo] + list(extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, (p.stdout + p.stderr).decode(errors="replace").strip()


def applied(args, db, *extra):
    rc, out = apply(args, db, *extra)
    if rc:
        raise AssertionError("current_message_apply %s: exit %d: %s" % (" ".join(extra), rc, out))
    return out


def wrong_values(expected, got, ids):
    """Chats among `ids` whose value is not one the oracle accepts."""
    return ["%s: %r, oracle %r" % (cid, got.get(cid), expected[cid]["after"])
            for cid in ids if got.get(cid, "absent") not in expected[cid]["after"]]


def expect(cond, what, problems):
    if not cond:
        problems.append(what)


def one_range(args, db):
    load_current_message_corpus(db, argparse.Namespace(chats=args.chats, seed=args.seed), "json", False, os.devnull)
    add_hard_cases(db, False)
    want = oracle(db)
    applied(args, db, "--ranges", "1")
    problems = wrong_values(want, values(db), want)
    want_rejects = sorted(cid for cid, o in want.items() if "reject" in o)
    expect(rejects(db) == want_rejects, "rejects %d, oracle %d" % (len(rejects(db)), len(want_rejects)), problems)
    first = values(db)
    psql_records(db.conninfo, "DELETE FROM sluice_current_message_apply_done")  # the range again
    out = applied(args, db, "--ranges", "1")
    expect(out.endswith("updated 0, rejected %d" % len(want_rejects)), "rerun: " + out, problems)
    expect(values(db) == first, "rerun: values changed", problems)
    expect(rejects(db) == want_rejects, "rerun: rejects %d, oracle %d" % (len(rejects(db)), len(want_rejects)),
           problems)
    return len(want), problems


def range_ids(ids, k, count):
    """The chat ids of range k of `count`, as current_message_apply plans them (byte order)."""
    ordered = sorted(ids, key=lambda s: s.encode("utf-8", "surrogatepass"))
    n = len(ordered)
    return set(ordered[n * k // count:n * (k + 1) // count])


def failed_range(args, db):
    load_current_message_corpus(db, argparse.Namespace(chats=args.chats, seed=args.seed + 1), "json", True, os.devnull)
    add_hard_cases(db, True)
    want, before = oracle(db), values(db)
    rc, out = apply(args, db, "--ranges", "3", "--fail-range", "1")
    problems = [] if rc == 1 and "division by zero" in out else ["failing write: exit %d: %s" % (rc, out)]
    first, rest = range_ids(want, 0, 3), set(want) - range_ids(want, 0, 3)
    got = values(db)
    problems += wrong_values(want, got, first)
    problems += ["%s: changed by the failed write" % cid for cid in rest if got[cid] != before[cid]]
    expect(set(rejects(db)) <= first, "rejects of the failed ranges committed", problems)
    done = psql_records(db.conninfo, "SELECT range_no FROM sluice_current_message_apply_done ORDER BY 1")
    expect(done == ["0"], "checkpoints after the failure: %s" % done, problems)
    applied(args, db, "--ranges", "3")
    problems += wrong_values(want, values(db), want)
    want_rejects = sorted(cid for cid, o in want.items() if "reject" in o)
    expect(rejects(db) == want_rejects, "rejects %d, oracle %d" % (len(rejects(db)), len(want_rejects)), problems)
    return len(want), problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", default=os.environ.get("SLUICE_TEST_DB"),
                    help="the server to make databases on (default: $SLUICE_TEST_DB)")
    ap.add_argument("--apply", default=os.path.join(ROOT, "build", "current_message_apply"))
    ap.add_argument("--chats", type=int, default=800)
    ap.add_argument("--seed", type=int, default=21)
    args = ap.parse_args()
    if not args.db:
        print("current message apply: SLUICE_TEST_DB is not set and no --db given")
        return 2
    return run_cases("current message apply", "sluice_cm_apply", args, (
        ("one range, rerun", one_range), ("three ranges, a failing write", failed_range)), "every value the oracle's")


def run_cases(title, dbname, args, cases, verdict):
    """Each (name, case) on a database of its own; case(args, db) -> (chats, problems). The exit status."""
    failed = False
    try:
        for name, case in cases:
            with Database(args.db, dbname) as db:
                try:
                    n, problems = case(args, db)
                except AssertionError as e:
                    n, problems = 0, [str(e)]
            print("%s: %d chats, %d problems" % (name, n, len(problems)))
            for p in problems[:20]:
                print("  " + p)
            failed |= bool(problems)
    except Setup as e:
        print("%s: cannot run: %s" % (title, e))
        return 2
    print("%s: %s" % (title, "FAILED" if failed else verdict))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
