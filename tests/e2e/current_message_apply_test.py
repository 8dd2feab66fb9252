#!/usr/bin/env python3
"""current_message_apply_test.py - the second job's reader, rule and writer against a real
PostgreSQL (build/current_message_apply: stages/current_message/chat_keys_reader.h, rule.h,
value_writer.h), compared with tests/lib/current_message_oracle.py.

    python3 tests/e2e/current_message_apply_test.py [--db URL] [--apply build/current_message_apply]
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
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LIB = os.path.join(os.path.dirname(HERE), "lib")
sys.path.insert(0, LIB)
sys.dont_write_bytecode = True
from helpers import (add_hard_cases, apply, applied, expect, load_current_message_corpus, oracle,  # noqa: E402
                     psql_records, rejects, run_cases, values, wrong_values)


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


if __name__ == "__main__":
    sys.exit(main())
