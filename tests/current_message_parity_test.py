#!/usr/bin/env python3
"""current_message_parity_test.py - the C++ rule of the second job (stages/current_message/rule.h,
through build/current_message_dump) against tests/current_message_oracle.py, chat by chat.

    python3 tests/current_message_parity_test.py [--db URL] [--dump build/current_message_dump]
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
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
from current_message_corpus_test import load, run  # noqa: E402
from e2e_parity_test import Database, Setup, psql  # noqa: E402

ORACLE = os.path.join(HERE, "current_message_oracle.py")

# (chat id, current value, blob, [(row id, parent_id, created_at)]): what the generator does
# not make, each a rule of SPEC section 6 where C++ and Python part easily.
HARD = [
    ("h-dup-history", None, '{"history":{"currentId":"a"},"history":{"currentId":"b"}}',
     [("h-dup-history-a", None, 1), ("h-dup-history-b", None, 2), ("h-dup-history-z", None, 9)]),
    ("h-dup-last-not-str", None, '{"currentId":"a","currentId":5}',
     [("h-dup-last-not-str-a", None, 1), ("h-dup-last-not-str-z", None, 9)]),
    ("h-big-int", None, '{"history":{"messages":{"f":{"timestamp":9007199254740992.0},'
     '"i":{"timestamp":9007199254740993}}}}', []),
    ("h-big-equal", None, '{"history":{"messages":{"f":{"timestamp":1e20},'
     '"i":{"timestamp":100000000000000000000}}}}', []),
    ("h-inf", None, '{"history":{"messages":{"a":{"timestamp":1e400},'
     '"b":{"timestamp":99999999999999999999}}}}', []),
    ("h-huge", None, '{"history":{"messages":{"a":{"timestamp":%s},"b":{"timestamp":1}}}}'
     % ("9" * 5000), []),
    ("h-lists", None, '{"history":{"messages":{"a":{"timestamp":[1,2]},"b":{"timestamp":[1,3]}}}}', []),
    ("h-list-mixed", None, '{"history":{"messages":{"a":{"timestamp":[1]},"b":{"timestamp":2}}}}', []),
    ("h-dicts", None, '{"history":{"messages":{"a":{"timestamp":{"x":1}},"b":{"timestamp":{"y":1}}}}}', []),
    ("h-list-dict-equal", None, '{"history":{"messages":{"a":{"timestamp":[{"x":1,"y":2},1]},'
     '"b":{"timestamp":[{"y":2.0,"x":true},2]}}}}', []),
    ("h-str-ts", None, '{"history":{"messages":{"a":{"timestamp":"10"},"b":{"timestamp":"9"}}}}', []),
    ("h-falsy-ts", None, '{"history":{"messages":{"a":{"timestamp":{}},"b":{"timestamp":-1}}}}', []),
    ("h-bool-ts", None, '{"history":{"messages":{"a":{"timestamp":true},"b":{"timestamp":1}}}}', []),
    ("h-ids", None, '{"messages":[{"id":1,"timestamp":9},{"id":1.0,"timestamp":1},'
     '{"id":"x","parentId":1.0,"timestamp":2}]}', []),
    ("h-id-float", None, '{"messages":[{"id":1E+2,"timestamp":1}]}', []),
    ("h-id-inf", None, '{"messages":[{"id":-1e400,"timestamp":1}]}', []),
    ("h-id-true", "true", '{"messages":[{"id":true,"timestamp":1}]}', []),
    ("h-id-list", None, '{"messages":[{"id":"a"},{"id":[1]}]}', [("h-id-list-a", None, 1)]),
    ("h-parent-list", None, '{"history":{"messages":{"a":{"timestamp":1},"b":{"parentId":[],"timestamp":2}}}}', []),
    ("h-surrogate-key", None, '{"history":{"messages":{"\\ud800":{"timestamp":1},"ok":{"timestamp":2}}}}', []),
    ("h-surrogate-win", None, '{"history":{"messages":{"\\ud800x":{"timestamp":3},"ok":{"timestamp":2}}}}', []),
    ("h-surrogate-pair", None, '{"history":{"messages":{"\\ud83d\\ude00":{"timestamp":3}}}}', []),
    ("h-escaped-key", None, '{"currentId":"\\u0061","history":{"messages":{"a":{"timestamp":1},'
     '"b":{"timestamp":2}}}}', []),
    ("h-nul-candidate", None, '{"currentId":"x\\u0000y"}', [("h-nul-candidate-a", None, 1)]),
    ("h-inner-nan", None, json.dumps('{"history":{"messages":{"n":{"timestamp":NaN},"m":{"timestamp":9}}}}'), []),
    ("h-inner-nan-list", None, json.dumps('{"history":{"messages":{"n":{"timestamp":[NaN,1]},'
                                          '"m":{"timestamp":[NaN,2]}}}}'), []),
    ("h-inner-digits", "k", json.dumps('{"currentId":"a","history":{"messages":{"a":{"timestamp":%s}}}}'
                                       % ("9" * 4301)), []),
    ("h-inner-4300", "k", json.dumps('{"currentId":"a","history":{"messages":{"a":{"timestamp":%s}}}}'
                                     % ("9" * 4300)), []),
    ("h-inner-control", "k", json.dumps('{"currentId":"a\x1fb","history":{"messages":{"a\x1fb":{}}}}'), []),
    ("h-inner-inf-word", "k", json.dumps('{"history":{"messages":{"a":{"timestamp":Inf}}}}'), []),
    ("h-inner-surrogate", None, json.dumps('{"history":{"messages":{"\ud800":{"timestamp":1}}}}'), []),
    ("h-inner-trailing", "k", json.dumps('{"currentId":"a"} x'), []),
    ("h-cycle", None, None, [("h-cycle-a", "h-cycle-b", 3), ("h-cycle-b", "h-cycle-a", 7)]),
    ("h-ties", None, None, [("h-ties-a", None, 1), ("h-ties-b", "h-ties-a", 5), ("h-ties-d", "h-ties-a", 5)]),
    ("h-null-time", None, None, [("h-null-time-a", None, None), ("h-null-time-b", None, 0),
                                 ("h-null-time-d", None, -5)]),
    ("h-empty-key", "keep", '{"history":{"messages":{"":{"timestamp":9},"a":{"timestamp":1}}}}', []),
    ("h-prefix-only", None, '{"currentId":"h-prefix-only-","branchPointMessageId":"a","history":'
     '{"messages":{"":{"timestamp":1},"a":{"timestamp":2},"b":{"timestamp":5}}}}', []),
]


def sql_text(v):
    return "NULL" if v is None else "'%s'" % v.replace("'", "''")


def add_hard_cases(db, column):
    stmts = []
    for cid, current, blob, rows in HARD:
        cols, vals = "id, user_id, chat", "%s, 'u', %s" % (sql_text(cid), sql_text(blob))
        if column:
            cols, vals = cols + ", current_message_id", vals + ", " + sql_text(current)
        stmts.append("INSERT INTO chat (%s) VALUES (%s);" % (cols, vals))
        for rid, parent, t in rows:
            stmts.append("INSERT INTO chat_message (id, chat_id, parent_id, created_at) VALUES"
                         " (%s, %s, %s, %s);" % (sql_text(rid), sql_text(cid), sql_text(parent),
                                                 "NULL" if t is None else t))
    psql(db.conninfo, "-c", "\n".join(stmts))


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
    load(db, argparse.Namespace(chats=args.chats, seed=seed), chat_type, column, os.devnull)
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
