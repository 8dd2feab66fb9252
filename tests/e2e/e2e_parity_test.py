#!/usr/bin/env python3
"""e2e_parity_test.py - `sluice migrate` against a real PostgreSQL, compared with tests/lib/oracle.py.

    python3 tests/e2e/e2e_parity_test.py [--sluice build/sluice] [--chats 3000] [--seed 11]
                                     [--chat-type json] [--chat-type jsonb] [--keep DIR] [--lanes 1]

For each chat type (default: json, then jsonb): makes a database of its own on the server
SLUICE_TEST_DB names (or --db), loads a generated corpus (awkward documents included) with
scripts/gen_openwebui.py, runs `sluice migrate`, and compares chat_message with what the oracle
derives from the very text the reader sees (`chat::text`, so jsonb's normalised form too):
the same ids; every column equal (text exactly, JSON by meaning and key order, as
differential_test.py compares them; no JSON column SQL NULL); created_at equal, or, for rows
whose timestamp fell back to the run's `now`, inside [start, end] of the run and the same for
all of them; the reject file's ids equal to the oracle's rejects, one JSON object a line; the
summary's counts equal to the table and the file. Prints one line per chat type and exits 1
on any mismatch (2 when it cannot run: no server, no binary).
"""
import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LIB = os.path.join(os.path.dirname(HERE), "lib")
sys.path.insert(0, LIB)
import oracle  # noqa: E402
from helpers import (Database, Diff, Setup, load_corpus, make_loader, psql_records, short,  # noqa: E402
                     top_object)
TIMESTAMPS = ("created_at", "updated_at")


def source_chats(db):
    """What the reader reads, as the oracle's input: id, user_id and chat::text of every row."""
    return [json.loads(r) for r in psql_records(
        db.conninfo, "SELECT json_build_object('id', id, 'user_id', user_id, 'chat', chat::text) FROM chat")]


def table_rows(db, load):
    """chat_message as {id: (columns, names of its JSON columns that are SQL NULL)}."""
    nulls = ", ".join("CASE WHEN m.%s IS NULL THEN '%s' END" % (c, c) for c in oracle.JSON_COLUMNS)
    rows = {}
    for r in psql_records(db.conninfo, "SELECT json_build_object('row', row_to_json(m), 'sql_null',"
                                       " concat_ws(',', %s)) FROM chat_message m" % nulls):
        obj = top_object(load(r))
        row = top_object(obj["row"])
        rows[row["id"]] = (row, obj["sql_null"])
    return rows


def stored_key(key):
    """An id as sluice's rejects table stores it (engine::RejectTable::key_text): itself when a
    text column can hold it, else the inside of its JSON string (NUL as \\u0000, a lone
    surrogate as \\udXXX)."""
    if "\x00" not in key and not re.search("[\ud800-\udfff]", key):
        return key
    out = []
    for ch in key:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or 0xD800 <= ord(ch) <= 0xDFFF:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def read_reject_file(path, diff):
    """The reject file's ids; every line must be one JSON object with the five fields."""
    ids = []
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for n, line in enumerate(f, 1):
            try:
                obj = json.loads(line)
                fields = (obj["id"], obj["chat_id"], obj["sqlstate"], obj["message"])
                if not all(isinstance(v, str) for v in fields) or not isinstance(obj["row"], dict):
                    raise ValueError("a field has the wrong type")
            except (ValueError, KeyError, TypeError) as e:
                diff.add("reject file line %d is not {id, chat_id, sqlstate, message, row} (%s): %s"
                         % (n, e, short(line)))
                continue
            ids.append(obj["id"])
    return ids


def summary_counts(out, diff):
    m = re.search(r"(\d+) chats read, (\d+) messages written, (\d+) already present, (\d+) rejected", out)
    if not m:
        diff.add("the output has no summary line: %s" % short(out, 400))
        return None
    return dict(zip(("chats", "written", "present", "rejected"), map(int, m.groups())))


def has_surrogate(v):
    if isinstance(v, str):
        return bool(re.search("[\ud800-\udfff]", v))
    if isinstance(v, tuple):
        return any(has_surrogate(k) or has_surrogate(x) for k, x in v[1])
    if isinstance(v, list):
        return any(map(has_surrogate, v))
    return False


def compare(chats, actual, now, start, end, diff, load):
    """The oracle over `chats` against the table's rows; returns counts for the summary."""
    expected_rejects, n_rows, surrogate_rows, fallback_values = set(), 0, 0, set()
    for src in chats:
        for kind, obj in oracle.transform_chat(src["id"], src["user_id"], src["chat"], now):
            if kind == "reject":
                expected_rejects.add(stored_key(obj["id"]))
                continue
            n_rows += 1
            exp = top_object(load(oracle.row_line(obj)))
            got, sql_null = actual.pop(exp["id"], (None, ""))
            if got is None:
                diff.add("row %s: the oracle emits it, the table does not hold it" % short(exp["id"]))
                continue
            bad = [c for c in oracle.COLUMNS if c not in TIMESTAMPS and got.get(c, "<absent>") != exp[c]]
            if got["created_at"] != got["updated_at"]:
                bad.append("updated_at")
            if got["created_at"] != exp["created_at"]:
                fell_back = exp["created_at"] == now
                if not (fell_back and start <= got["created_at"] <= end):
                    bad.append("created_at")
            if exp["created_at"] == now:
                fallback_values.add(got["created_at"])
            if sql_null:
                bad.append("SQL NULL in %s (JSON null expected)" % sql_null)
            if bad:
                diff.add("row %s: %s" % (short(exp["id"]), "; ".join(
                    "%s: expected %s, got %s" % (c, short(exp.get(c)), short(got.get(c, "<absent>")))
                    if c in exp else c for c in bad)))
            elif any(has_surrogate(exp[c]) for c in oracle.JSON_COLUMNS):
                surrogate_rows += 1
    for key in actual:
        diff.add("row %s: in the table, but %s" % (short(key), "the oracle rejects it" if key in expected_rejects
                                                   else "the oracle emits no such row"))
    if len(fallback_values) > 1:
        diff.add("rows whose timestamp fell back to now hold %d different values: %s"
                 % (len(fallback_values), short(sorted(fallback_values))))
    return n_rows, expected_rejects, surrogate_rows


def run_one(args, chat_type, work):
    diff = Diff()
    load = make_loader(True)
    with Database(args.db, "sluice_e2e_%d_%s" % (os.getpid(), chat_type)) as db:
        load_corpus(db, args, chat_type)
        chats = source_chats(db)
        reject_path = os.path.join(work, "rejects-%s.jsonl" % chat_type)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("DATABASE_") and not (k.startswith("SLUICE_") and not k.startswith("SLUICE_TEST_"))}
        start = math.floor(time.time())
        p = subprocess.run([args.sluice, "migrate", "--db", db.conninfo, "--progress", "none",
                            "--reject-file", reject_path, "--lanes", str(args.lanes)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env)
        end = math.ceil(time.time())
        out = p.stdout.decode(errors="replace")
        if p.returncode:
            diff.add("sluice migrate exited %d: %s" % (p.returncode, p.stderr.decode(errors="replace").strip()))
            return diff, "sluice failed"
        actual = table_rows(db, load)
        n_table = len(actual)
        n_rows, expected_rejects, surrogate_rows = compare(chats, actual, start, start, end, diff, load)
        if chat_type == "json" and surrogate_rows == 0:
            diff.add("no row with a lone surrogate in a JSON column was compared: the corpus lacks them")
        reject_ids = read_reject_file(reject_path, diff)
        if len(set(reject_ids)) != len(reject_ids):
            diff.add("the reject file lists some id more than once")
        for key in sorted(set(reject_ids) - expected_rejects):
            diff.add("reject %s: in the reject file, but the oracle does not reject it" % short(key))
        for key in sorted(expected_rejects - set(reject_ids)):
            diff.add("reject %s: the oracle rejects it, the reject file does not list it" % short(key))
        counts = summary_counts(out, diff)
        if counts:
            if counts["written"] != n_table:
                diff.add("the summary says %d messages written, the table holds %d" % (counts["written"], n_table))
            if counts["rejected"] != len(reject_ids):
                diff.add("the summary says %d rejected, the reject file holds %d"
                         % (counts["rejected"], len(reject_ids)))
            if counts["present"] != 0:
                diff.add("a fresh target reported %d rows already present" % counts["present"])
        # The plan's count of chats (the ETA's and status's "of N") is the checks' count with one
        # lane: it must be the chats the reader selects, the copies of shared links and chats
        # without a user left out as the reader leaves them out.
        planned, read, selected = psql_records(
            db.conninfo, "SELECT concat_ws(' ', (SELECT sum(planned_chats) FROM sluice_checkpoint"
            " WHERE job = 'openwebui_chat_message'), (SELECT sum(chats) FROM sluice_checkpoint WHERE job = 'openwebui_chat_message'),"
            " (SELECT count(*) FROM chat WHERE NOT (user_id LIKE 'shared-%')))")[0].split()
        if not planned == read == selected:
            diff.add("the checkpoint planned %s chats and read %s; the reader selects %s" % (planned, read, selected))
        if args.keep:
            shutil.copy(reject_path, os.path.join(args.keep, os.path.basename(reject_path)))
        return diff, "%d chats, %d rows, %d rejects, %d rows with lone surrogates in JSON" % (
            len(chats), n_rows, len(expected_rejects), surrogate_rows)


def main():
    ap = argparse.ArgumentParser(description="sluice migrate vs the Python oracle, on a real PostgreSQL")
    ap.add_argument("--sluice", default=os.path.join(ROOT, "build", "sluice"))
    ap.add_argument("--db", default=os.environ.get("SLUICE_TEST_DB"),
                    help="the server to make databases on (default: $SLUICE_TEST_DB)")
    ap.add_argument("--chats", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--chat-type", action="append", choices=("json", "jsonb"),
                    help="repeatable; default: json and jsonb")
    ap.add_argument("--keep", metavar="DIR", help="copy the reject files into DIR")
    ap.add_argument("--lanes", type=int, default=1, help="sluice's --lanes")
    args = ap.parse_args()
    if not args.db:
        print("e2e parity: SLUICE_TEST_DB is not set and no --db given; start a server with "
              "scripts/lib/pg.sh (database tests never skip)", file=sys.stderr)
        return 2
    if not os.access(args.sluice, os.X_OK):
        print("e2e parity: %s is not an executable (build it first)" % args.sluice, file=sys.stderr)
        return 2
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
    status = 0
    work = tempfile.mkdtemp(prefix="sluice-e2e-")
    try:
        for chat_type in args.chat_type or ["json", "jsonb"]:
            t0 = time.time()
            try:
                diff, what = run_one(args, chat_type, work)
            except Setup as e:
                print("e2e parity (%s): cannot run: %s" % (chat_type, e), file=sys.stderr)
                status = max(status, 2)
                continue
            for d in diff.details:
                print("  MISMATCH " + d)
            print("e2e parity (%s, --chats %d --seed %d --lanes %d): %s, %d mismatches (%.1fs)" % (
                chat_type, args.chats, args.seed, args.lanes, what, diff.count, time.time() - t0), flush=True)
            if diff.count:
                status = max(status, 1)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
