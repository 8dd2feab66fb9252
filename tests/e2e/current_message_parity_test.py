#!/usr/bin/env python3
"""current_message_parity_test.py - the C++ rule of the second job (stages/current_message/rule.h,
through build/current_message_dump) against tests/lib/current_message_oracle.py, chat by chat.

    python3 tests/e2e/current_message_parity_test.py [--db URL] [--dump build/current_message_dump]
        [--chats 1500] [--seeds 11,12,13,14]

For each seed, a database made by scripts/gen_current_message.py (chat as json, then jsonb, then
json without the current_message_id column, in turn), with the hand-written hard cases below
added; both sides read it and must agree on every chat: the path, reject or not, the result (on
path A the set of tied newest leaves, which upstream may pick from, exactly the oracle's) and the
value the column has afterwards.  Prints one line per database; exits 1 on any difference, 2
when it cannot run.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LIB = os.path.join(os.path.dirname(HERE), "lib")
sys.path.insert(0, LIB)
sys.dont_write_bytecode = True
from helpers import Database, Setup, add_hard_cases, load_current_message_corpus, run  # noqa: E402

ORACLE = os.path.join(LIB, "current_message_oracle.py")

def lines(cmd):
    out = run(cmd).stdout.decode()
    return {o["id"]: o for o in map(json.loads, out.splitlines())}


def differences(oracle, dump):
    diffs = []
    for cid, o in oracle.items():
        d = dump.pop(cid, None)
        if d is None:
            diffs.append("%s: not in the dump" % cid)
            continue
        got_after = d["write"] if d["write"] is not None else d["current"]
        if o["path"] != d["path"]:
            diffs.append("%s: path %s, oracle %s" % (cid, d["path"], o["path"]))
        elif ("reject" in o) != (d["reject"] is not None):
            diffs.append("%s: reject %s, oracle %s" % (cid, d["reject"], o.get("reject")))
        elif "reject" not in o and sorted(d["ties"] or ([] if d["result"] is None else [d["result"]])) != o["results"]:
            diffs.append("%s: result %s (ties %s), oracle %s" % (cid, d["result"], d["ties"], o["results"]))
        elif got_after not in o["after"]:
            diffs.append("%s: after %s, oracle %s" % (cid, got_after, o["after"]))
    return diffs + ["%s: not in the oracle's output" % cid for cid in dump]


def check(db, args, seed, chat_type, column):
    load_current_message_corpus(db, argparse.Namespace(chats=args.chats, seed=seed), chat_type, column, os.devnull)
    if chat_type == "json":  # jsonb refuses NUL and lone surrogates
        add_hard_cases(db, column)
    oracle = lines([sys.executable, ORACLE, "--db", db.conninfo])
    dump = lines([args.dump, db.conninfo])
    n = len(oracle)
    return n, differences(oracle, dump)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", default=os.environ.get("SLUICE_TEST_DB"),
                    help="the server to make databases on (default: $SLUICE_TEST_DB)")
    ap.add_argument("--dump", default=os.path.join(ROOT, "build", "current_message_dump"))
    ap.add_argument("--chats", type=int, default=1500)
    ap.add_argument("--seeds", default="11,12,13,14")
    args = ap.parse_args()
    if not args.db:
        print("current message parity: SLUICE_TEST_DB is not set and no --db given")
        return 2
    states = (("json", True), ("jsonb", True), ("json", False))
    total, failed = 0, False
    try:
        for i, seed in enumerate(int(s) for s in args.seeds.split(",")):
            chat_type, column = states[i % len(states)]
            name = "sluice_cm_parity_%d" % seed
            with Database(args.db, name) as db:
                n, diffs = check(db, args, seed, chat_type, column)
            total += n
            print("seed %d (%s%s): %d chats compared, %d differences" % (
                seed, chat_type, "" if column else ", no column", n, len(diffs)))
            for d in diffs[:20]:
                print("  " + d)
            failed |= bool(diffs)
    except Setup as e:
        print("current message parity: cannot run: %s" % e)
        return 2
    print("current message parity: %d chats compared, %s" % (total, "differences found" if failed else "0 differences"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
