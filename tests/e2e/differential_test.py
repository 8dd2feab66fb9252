#!/usr/bin/env python3
"""differential_test.py - sluice's C++ chat transform against tests/lib/oracle.py (SPEC section 2).

    python3 tests/e2e/differential_test.py --sluice-dump build/transform_dump --chats 10000 --seed 7
    python3 tests/e2e/differential_test.py --self-check --chats 2000 --seed 7   # oracle vs oracle
    python3 tests/e2e/differential_test.py --sluice-dump build/transform_dump --utf8-source  # the fast scan

Generates chats with scripts/gen_openwebui.py --format jsonl, keeps the rows the reader would
select, feeds them to `<dump tool> --now EPOCH` on stdin and to the oracle, then compares:
the same row ids; for each row every column equal (text columns exactly, JSON columns by
meaning: numbers by decimal value, objects with Python dict semantics for duplicate keys and,
unless --ignore-key-order, key order); the same rejected ids.  Prints
`differential: <chats> chats, <rows> rows, <rejects> rejects, <mismatches> mismatches`
and the first 10 mismatches; exits 1 on any mismatch or tool failure.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.path.join(os.path.dirname(HERE), "lib")
sys.path.insert(0, LIB)
sys.dont_write_bytecode = True  # no tests/__pycache__ in the source tree
import oracle  # noqa: E402
from helpers import GENERATOR, Diff, make_loader, short, top_object  # noqa: E402


def read_actual(path, load, diff):
    """The tool's output -> ({row id: row}, {reject id: reject})."""
    rows, rejects = {}, {}
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = top_object(load(line))
                if "reject" in obj:
                    rej = top_object(obj["reject"])
                    key = rej["id"]
                    if key in rejects:
                        diff.add("tool output line %d: reject %s twice" % (n, short(key)))
                    rejects[key] = rej
                    continue
                key = obj["id"]
            except (ValueError, KeyError, TypeError) as e:
                diff.add("tool output line %d unreadable (%s): %s" % (n, e, short(line)))
                continue
            if key in rows:
                diff.add("tool output line %d: row %s twice" % (n, short(key)))
            rows[key] = obj
    return rows, rejects


def compare(input_path, actual_path, now, ordered, show=10):
    """Runs the oracle over input_path and compares with the tool output in actual_path."""
    load = make_loader(ordered)
    diff = Diff(show)
    actual_rows, actual_rejects = read_actual(actual_path, load, diff)
    chats = n_rows = n_rejects = 0
    expected_rejects, expected_row_ids = {}, set()
    with open(input_path, encoding="utf-8") as f:
        for line in f:
            src = json.loads(line)
            chats += 1
            for kind, obj in oracle.transform_chat(src["id"], src["user_id"], src["chat"], now):
                if kind == "reject":
                    n_rejects += 1
                    expected_rejects[obj["id"]] = obj
                    continue
                n_rows += 1
                exp = top_object(load(oracle.row_line(obj)))
                expected_row_ids.add(exp["id"])
                got = actual_rows.pop(exp["id"], None)
                if got is None:
                    rej = actual_rejects.get(exp["id"])
                    whole = actual_rejects.get(exp["chat_id"])
                    diff.add("row %s: expected a row, tool %s" % (
                        short(exp["id"]), "rejected it: %s" % short(rej) if rej
                        else "rejected its whole chat: %s" % short(whole.get("message"))
                        if whole else "did not emit it"))
                    continue
                bad = [c for c in oracle.COLUMNS if c not in got or got[c] != exp[c]]
                extra = sorted(set(got) - set(oracle.COLUMNS))
                if bad or extra:
                    diff.add("row %s: %s" % (short(exp["id"]), "; ".join(
                        ["%s: expected %s, got %s" % (c, short(exp[c]),
                                                      short(got.get(c, "<absent>")))
                         for c in bad] + ["unexpected column %s" % c for c in extra])))
    for key in actual_rows:
        rej = expected_rejects.get(key)
        diff.add("row %s: tool emitted it, oracle %s" % (
            short(key), "rejects it (%s)" % rej["reason"] if rej else "emits no such row"))
    for key, rej in expected_rejects.items():
        if key not in actual_rejects and key not in actual_rows:
            diff.add("reject %s (%s): tool neither rejected nor emitted it" % (
                short(key), rej["reason"]))
    for key, rej in actual_rejects.items():
        if key not in expected_rejects and key not in expected_row_ids:  # else: reported
            diff.add("reject %s: tool rejected it (%s), oracle expects no such message" % (
                short(key), short({k: v for k, v in rej.items() if k != "id"})))
    return chats, n_rows, n_rejects, diff


def generate(args, path):
    """Generator (jsonl) -> the rows the reader selects, written to path; returns counts."""
    cmd = [sys.executable, GENERATOR, "--format", "jsonl", "--chats", str(args.chats),
           "--seed", str(args.seed), "--big-chats", str(args.big_chats),
           "--big-chat-mb", str(args.big_chat_mb)] + (["--no-awkward"] if args.no_awkward else [])
    total = kept = 0
    with subprocess.Popen(cmd, stdout=subprocess.PIPE) as p, open(path, "wb") as out:
        for line in p.stdout:
            total += 1
            if oracle.selected(json.loads(line)["user_id"]):
                out.write(line)
                kept += 1
    if p.returncode:
        raise SystemExit("differential: generator failed (exit %d)" % p.returncode)
    return total, kept


def main():
    ap = argparse.ArgumentParser(description="C++ transform vs Python oracle")
    ap.add_argument("--sluice-dump", help="path of build/transform_dump")
    ap.add_argument("--self-check", action="store_true",
                    help="use tests/lib/oracle.py as the tool too (tests this script)")
    ap.add_argument("--chats", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--now", type=int, default=None, help="epoch seconds (default: now)")
    ap.add_argument("--big-chats", type=int, default=0)
    ap.add_argument("--big-chat-mb", type=int, default=30)
    ap.add_argument("--no-awkward", action="store_true")
    ap.add_argument("--utf8-source", action="store_true",
                    help="the dump tool trusts the text as a UTF-8 database's (the fast scan)")
    ap.add_argument("--input", help="use this selected-rows JSONL instead of generating")
    ap.add_argument("--ignore-key-order", action="store_true")
    ap.add_argument("--keep", metavar="DIR", help="keep input/output files in DIR")
    ap.add_argument("--show", type=int, default=10, help="mismatches to print in detail")
    args = ap.parse_args()
    if not args.self_check and not args.sluice_dump:
        ap.error("give --sluice-dump PATH or --self-check")
    if args.sluice_dump and not args.self_check and not os.access(args.sluice_dump, os.X_OK):
        ap.error("%s is not an executable file (build it first)" % args.sluice_dump)
    now = args.now if args.now is not None else int(time.time())
    work = args.keep or tempfile.mkdtemp(prefix="sluice-diff-")
    os.makedirs(work, exist_ok=True)
    try:
        input_path = args.input or os.path.join(work, "input.jsonl")
        t0 = time.time()
        if not args.input:
            total, kept = generate(args, input_path)
            print("generated %d chat rows, %d selected (%.1fs)" % (total, kept, time.time() - t0),
                  flush=True)
        tool = ([sys.executable, os.path.join(LIB, "oracle.py")] if args.self_check
                else [args.sluice_dump])
        extra = ["--utf8-source"] if args.utf8_source and not args.self_check else []
        actual_path = os.path.join(work, "actual.jsonl")
        t0 = time.time()
        with open(input_path, "rb") as i, open(actual_path, "wb") as o:
            rc = subprocess.call(tool + ["--now", str(now)] + extra, stdin=i, stdout=o)
        print("%s: exit %d (%.1fs)" % (" ".join(tool), rc, time.time() - t0), flush=True)
        t0 = time.time()
        chats, rows, rejects, diff = compare(input_path, actual_path, now,
                                             not args.ignore_key_order, args.show)
        if rc:
            diff.add("tool exited with status %d" % rc)
        print("compared (%.1fs)" % (time.time() - t0))
        for d in diff.details:
            print("  MISMATCH " + d)
        print("differential: %d chats, %d rows, %d rejects, %d mismatches" % (
            chats, rows, rejects, diff.count))
        return 1 if diff.count else 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
