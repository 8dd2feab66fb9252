#!/usr/bin/env python3
"""current_message_oracle.py - SPEC section 6 (`chat.current_message_id`, Open WebUI alembic
9a1b2c3d4e5f) restated in Python, independent of sluice's C++; the reference side of the second
job's differential tests.

    python3 tests/lib/current_message_oracle.py --chats chats.jsonl --messages rows.jsonl > out.jsonl
    python3 tests/lib/current_message_oracle.py --db URL [--schema S] > out.jsonl

Input (files, or `-` for stdin; --messages may be left out when there are no rows):
  chats     one line per chat row:    {"id", "current_message_id", "chat"}  (chat: the column
            as `chat::text` gives it, or null; current_message_id: text or null)
  messages  one line per chat_message row: {"id", "chat_id", "parent_id", "created_at"}
--db reads both from a database (the state BEFORE the job runs; a `chat` without the
current_message_id column counts as all NULL).

Output, one line per chat, in input order:
  {"id", "path": "A"|"B", "results": [...], "after": [...]}
  {"id", "path": "A"|"B", "reject": "why upstream raises", "after": [current]}
results: every acceptable result, as the text upstream stores (empty list: none; "" is a
result that is never written).  Path A ties give several (upstream reads chat_message without
ORDER BY); path B gives at most one (the JSON's order decides).  after: every acceptable value
of the column once the job has run (null: SQL NULL): a result when it is non-empty and differs
from the current value, else the current value (never NULL written, never a value cleared).
A summary goes to stderr.

Python semantics on purpose (upstream hands the json column to psycopg2, which calls
json.loads): objects as dicts (a key given twice: the last value, at the first key's place),
truthiness, `x or 0`, comparisons that raise TypeError between str and numbers, int vs float
compared exactly, bool an int.  Decisions where SPEC section 6 is silent or loose, each the
behaviour of upstream's own file (v0.11.0, backend/open_webui/migrations/versions/
9a1b2c3d4e5f_add_current_message_id_to_chat.py):
  - a JSON *string* blob is parsed once more (psycopg2 gives a str, the migration json.loads
    it); its contents not JSON (an integer of more than 4300 digits included: Python 3.11's
    limit, which upstream catches as ValueError) or not an object: {}.
  - path B's time is `timestamp or 0`: absent, null, false, 0, "", [], {} all count as int 0.
  - a chat_message row whose stripped id is "" is not a key; a chat whose rows all strip to ""
    takes path B.
  - a candidate that strips to "" (exactly "<id>-") is kept: never a key on path A; on path B,
    when it is the first candidate found among the keys, the newest leaf decides.
  - list-form messages whose truthy `id` is an array or object (unhashable), a path-B parentId
    that is an array or object met while finding leaves, timestamps Python cannot compare, a
    candidate or path-B result holding NUL or a lone surrogate (psycopg2 cannot send it): all
    make upstream raise, so the chat is a reject and nothing changes.
  - a path-B key that is not a string (list-form ids: 5, 1.5, true) is written as the text
    PostgreSQL stores for psycopg2's literal ('5', '1.5', 'true'): oracle.pg_text.
Where this follows the SPEC against upstream: a row id without the `<id>-` prefix is a key as it
is (upstream's candidate query only finds `<id>-<candidate>`).  Like tests/lib/oracle.py, nesting
depth and the outer document's integer length are not limited (upstream's whole migration fails
there).
"""
import argparse
import itertools
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no tests/__pycache__ in the source tree
from oracle import Reject, check_text, pg_text  # noqa: E402  (also lifts Python's limits)

PYTHON_INT_DIGITS = 4300  # sys.int_info.default_max_str_digits of upstream's Python 3.11
MAX_COMBINATIONS = 4096   # colliding path-A keys enumerated, at most


class Outcome:
    """One chat's verdict: path "A"/"B", the acceptable results (texts), or a reject reason."""

    def __init__(self, path, results=(), reject=None):
        self.path, self.results, self.reject = path, set(results), reject

    def after(self, current):
        if self.reject is not None or not self.results:
            return {current}
        return {r if r and r != current else current for r in self.results}


def _inner_int(text):
    if len(text.lstrip("-")) > PYTHON_INT_DIGITS:
        raise ValueError("Exceeds the limit (%d digits) for integer string conversion"
                         % PYTHON_INT_DIGITS)
    return int(text)


def parse_blob(text):
    """`chat::text` (or None) -> the dict upstream reads the candidates and messages from."""
    if text is None:
        return {}
    doc = json.loads(text)  # PostgreSQL's json: always valid
    if isinstance(doc, str):  # double-encoded: upstream json.loads it, catching ValueError
        try:
            doc = json.loads(doc, parse_int=_inner_int)
        except ValueError:
            return {}
    return doc if isinstance(doc, dict) else {}


def strip(s, prefix):
    return s[len(prefix):] if s and s.startswith(prefix) else s


def candidates_of(prefix, current, doc, history):
    """Non-empty strings, stripped, first occurrence kept (a stripped "" included)."""
    out = []
    for c in (current, history.get("currentId"), doc.get("currentId"),
              doc.get("branchPointMessageId")):
        if isinstance(c, str) and c:
            c = strip(c, prefix)
            if c not in out:
                out.append(c)
    return out


def json_messages(doc, history):
    """Path B's map: key -> (parentId, timestamp; 0 when absent), raw values.  Built for every
    chat, as upstream does, so an unhashable list-form id rejects the chat on either path."""
    messages = history.get("messages") if isinstance(history.get("messages"), dict) else {}
    if not messages and isinstance(doc.get("messages"), list):
        try:
            messages = {m["id"]: m for m in doc["messages"] if isinstance(m, dict) and m.get("id")}
        except TypeError as e:
            raise Reject("messages[].id: %s" % e)
    return {k: (v.get("parentId"), v.get("timestamp", 0)) if isinstance(v, dict) else (None, 0)
            for k, v in messages.items()}


def row_keys(prefix, rows):
    """Path A: stripped key -> every (stripped parent_id, created_at or 0) a row gives it."""
    keys = {}
    for r in rows:
        key = strip(r["id"], prefix)
        if key:
            keys.setdefault(key, []).append((strip(r["parent_id"], prefix), r["created_at"] or 0))
    return keys


def leaves(messages):
    """Keys no entry names as its parent; every key when there is none (a cycle)."""
    try:
        parents = {p for p, _ in messages.values() if p in messages}
    except TypeError as e:  # an array or object parentId
        raise Reject("parentId: %s" % e)
    return [k for k in messages if k not in parents] or list(messages)


def path_a(candidates, keys):
    for c in candidates:
        if c in keys:
            return Outcome("A", {c})
    combinations = math.prod(len(v) for v in keys.values())
    if combinations > MAX_COMBINATIONS:
        raise ValueError("too many colliding chat_message keys to enumerate (%d)" % combinations)
    results = set()
    for choice in itertools.product(*keys.values()):  # a colliding key holds any of its rows
        messages = dict(zip(keys, choice))
        pool = leaves(messages)
        newest = max(messages[k][1] for k in pool)
        results |= {k for k in pool if messages[k][1] == newest}
    return Outcome("A", results)


def path_b(candidates, messages):
    found = next((c for c in candidates if c in messages), None)
    if found:
        return Outcome("B", {found})
    if not messages:
        return Outcome("B")
    pool = leaves(messages)
    try:
        best = max(pool, key=lambda k: messages[k][1] or 0)
    except TypeError as e:
        raise Reject("timestamps: %s" % e)
    return Outcome("B", {best})


def stored_text(result):
    """The text the column receives for a result (str as is; a number or true as psycopg2's
    literal read by PostgreSQL)."""
    return check_text(result, "result") if isinstance(result, str) else pg_text(result)


def resolve(chat_id, current, chat_text, rows):
    """One chat -> Outcome.  rows: that chat's chat_message rows (dicts)."""
    prefix = chat_id + "-"
    keys = row_keys(prefix, rows)
    path = "A" if keys else "B"
    try:
        doc = parse_blob(chat_text)
        history = doc.get("history") if isinstance(doc.get("history"), dict) else {}
        candidates = candidates_of(prefix, current, doc, history)
        for c in candidates:
            check_text(c, "candidate")  # upstream binds every candidate in one query
        messages = json_messages(doc, history)
        outcome = path_a(candidates, keys) if keys else path_b(candidates, messages)
        outcome.results = {stored_text(r) for r in outcome.results}
        return outcome
    except Reject as e:
        return Outcome(path, reject=str(e))


def sorted_texts(values):
    return sorted(values, key=lambda v: (v is None, v or ""))


def result_line(chat_id, current, outcome):
    line = {"id": chat_id, "path": outcome.path}
    if outcome.reject is not None:
        line["reject"] = outcome.reject
    else:
        line["results"] = sorted_texts(outcome.results)
    line["after"] = sorted_texts(outcome.after(current))
    return json.dumps(line)


def run(chats, rows_by_chat, out):
    """chats: iterable of dicts; returns the counts for the summary."""
    n = {"chats": 0, "A": 0, "B": 0, "writes": 0, "ties": 0, "rejects": 0}
    for c in chats:
        current = c["current_message_id"]
        outcome = resolve(c["id"], current, c["chat"], rows_by_chat.get(c["id"], ()))
        n["chats"] += 1
        n[outcome.path] += 1
        n["rejects"] += outcome.reject is not None
        n["ties"] += len(outcome.results) > 1
        n["writes"] += outcome.after(current) != {current}
        out.write(result_line(c["id"], current, outcome) + "\n")
    return n


def read_jsonl(path):
    f = sys.stdin if path == "-" else open(path, encoding="utf-8")
    with f:
        return [json.loads(line) for line in f if line.strip()]


def group_rows(rows):
    by_chat = {}
    for r in rows:
        by_chat.setdefault(r["chat_id"], []).append(r)
    return by_chat


def read_db(conninfo, schema):
    """The job's input as the database holds it now: (chats, rows)."""
    from helpers import psql_records  # only this mode needs psql
    q = '"%s"' % schema.replace('"', '""')
    has_column = psql_records(conninfo, (
        "SELECT count(*) FROM pg_attribute WHERE attrelid = '%s.chat'::regclass"
        " AND attname = 'current_message_id' AND NOT attisdropped") % q.replace("'", "''"))
    current = "current_message_id" if has_column == ["1"] else "NULL::text"
    chats = [json.loads(r) for r in psql_records(conninfo, (
        "SELECT json_build_object('id', id, 'current_message_id', %s, 'chat', chat::text)"
        " FROM %s.chat") % (current, q))]
    rows = [json.loads(r) for r in psql_records(conninfo, (
        "SELECT json_build_object('id', id, 'chat_id', chat_id, 'parent_id', parent_id,"
        " 'created_at', created_at) FROM %s.chat_message") % q)]
    return chats, rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--chats", help="chat rows as JSON lines ('-': stdin)")
    src.add_argument("--db", help="read chat and chat_message from this database")
    ap.add_argument("--messages", help="chat_message rows as JSON lines (with --chats)")
    ap.add_argument("--schema", default="public", help="with --db (default: public)")
    a = ap.parse_args()
    if a.db:
        chats, rows = read_db(a.db, a.schema)
    else:
        chats, rows = read_jsonl(a.chats), read_jsonl(a.messages) if a.messages else []
    out = open(sys.stdout.fileno(), "w", encoding="utf-8", closefd=False)
    n = run(chats, group_rows(rows), out)
    out.flush()
    sys.stderr.write("current_message_oracle: %(chats)d chats, %(A)d path A, %(B)d path B,"
                     " %(writes)d writes, %(ties)d ties, %(rejects)d rejects\n" % n)


if __name__ == "__main__":
    main()
