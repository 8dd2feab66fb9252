#!/usr/bin/env python3
"""oracle.py - SPEC section 2 (the Open WebUI chat -> chat_message transform) restated in
Python, in the style of the upstream migration 8452d01d26d7; the reference side of
tests/e2e/differential_test.py.

    python3 tests/lib/oracle.py --now EPOCH < chats.jsonl > rows.jsonl

Input lines: {"id","user_id","chat"} (chat: the column's text, or null).  Output lines: one
per chat_message row {"id","chat_id","user_id","role","parent_id","model_id","content",
"output","files","sources","embeds","done","status_history","error","usage","created_at",
"updated_at"} (JSON columns as JSON values, text columns as strings or null), and
{"reject": {"id","chat_id","reason"}} per message that cannot be stored.

Python semantics on purpose: dict for objects (duplicate key: last value wins, at the first
key's position), Python truthiness, int(float(t)) for timestamps.  Deviations from plain
json.loads, all so that every document PostgreSQL's json type accepts is handled exactly:
numbers keep their source text (Num), NaN/Infinity are not JSON, nesting depth is not limited
by Python's default recursion limit, nor integer length by its 4300-digit int() limit (on
those two upstream's json.loads raises and the whole migration stops).

Where a number meets a column that is not JSON, the oracle takes the value json.loads gives
(Num.value(): int or float) through what upstream does with it: SQLAlchemy's Boolean for `done`
(done_column), psycopg2's SQL literal read by PostgreSQL for the text columns (pg_text).
"""
import decimal
import json
import math
import re
import sys

sys.setrecursionlimit(max(sys.getrecursionlimit(), 200000))
if hasattr(sys, "set_int_max_str_digits"):  # Python 3.11+
    sys.set_int_max_str_digits(0)

JSON_COLUMNS = ("content", "output", "files", "sources", "embeds", "status_history", "error",
                "usage")
TEXT_COLUMNS = ("id", "chat_id", "user_id", "role", "parent_id", "model_id")
COLUMNS = ("id", "chat_id", "user_id", "role", "parent_id", "model_id", "content", "output",
           "files", "sources", "embeds", "done", "status_history", "error", "usage",
           "created_at", "updated_at")
_SURROGATE = re.compile("[\ud800-\udfff]")


class Num(str):
    """A JSON number, kept as its source text."""
    __slots__ = ()

    def truthy(self):  # what Python's bool() says of the value json.loads would give
        return float(self) != 0.0

    def value(self):
        """The value json.loads gives: int for an integer literal, else float (1e400: inf)."""
        text = str.__str__(self)
        return float(text) if any(c in text for c in ".eE") else int(text)


def _no_constant(name):
    raise ValueError("not JSON: %s" % name)


def loads(text):
    """json.loads, numbers as Num, NaN/Infinity rejected; raises ValueError if not JSON."""
    return json.loads(text, parse_int=Num, parse_float=Num, parse_constant=_no_constant)


def truthy(v):
    return v.truthy() if isinstance(v, Num) else bool(v)


def dumps(v):
    """Serialise a loads() value; numbers as written, ASCII only (\\uXXXX escapes)."""
    if isinstance(v, Num):
        return str.__str__(v)
    if isinstance(v, str):
        return json.dumps(v)
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, list):
        return "[" + ",".join(map(dumps, v)) + "]"
    return "{" + ",".join(json.dumps(k) + ":" + dumps(x) for k, x in v.items()) + "}"


class Reject(Exception):
    pass


def check_text(s, column):
    """A string bound for a TEXT column: NUL and lone surrogates cannot be stored."""
    if "\x00" in s:
        raise Reject("%s: NUL character" % column)
    if _SURROGATE.search(s):
        raise Reject("%s: lone UTF-16 surrogate" % column)
    return s


def numeric_text(literal):
    """What PostgreSQL's numeric prints for the numeric literal `literal` ("1.5e-07").

    numeric_in keeps the literal's display scale, max(0, fractional digits - exponent), and
    numeric_out prints exactly that many fractional digits: "100.0" -> "100.0", "1e+20" ->
    "100000000000000000000", "1.5e-07" -> "0.00000015".  Decimal keeps the same scale as its
    exponent (fractional digits - exponent = -Decimal exponent) and format "f" prints it the
    same way.  numeric has no negative zero: "-0.0" -> "0.0"."""
    d = decimal.Decimal(literal)
    return format(abs(d) if d.is_zero() else d, "f")


def pg_text(value):
    """The TEXT a number or bool bound by upstream ends up as: psycopg2 sends str(int) or
    repr(float) as a SQL literal (" -1.5": a space before a negative number), or
    'Infinity'::float / '-Infinity'::float for an infinite float; PostgreSQL reads an integer
    literal as an integer type and anything with '.' or an exponent as numeric, and the text
    column stores that value's output."""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return numeric_text(repr(value))


def text_column(v, column):
    """role / parentId / model -> TEXT value (None = SQL NULL)."""
    if v is None:
        return None
    if v is True or v is False:
        return pg_text(v)
    if isinstance(v, Num):
        return pg_text(v.value())
    if isinstance(v, str):
        return check_text(v, column)
    raise Reject("%s: %s cannot be stored in a text column" % (
        column, "object" if isinstance(v, dict) else "array"))


def done_column(message):
    """message.get("done", True) through SQLAlchemy's Boolean bind processor: it accepts a
    value `in frozenset([None, True, False])` (by Python equality 1, 1.0 are True and 0, -0,
    0.0 are False) and binds bool(value); anything else raises and the row is not inserted."""
    v = message.get("done", True)
    if isinstance(v, Num):
        v = v.value()
    if isinstance(v, (str, list, dict)) or v not in (None, True, False):
        raise Reject("done: %s is not a boolean" % dumps(message["done"])[:40])
    return None if v is None else bool(v)


def timestamp(message, now):
    """SPEC 2.3: int(float(t)), ms -> s, range check; anything unusable -> now."""
    if "timestamp" not in message:
        t = now
    else:
        v = message["timestamp"]
        try:
            if isinstance(v, Num):
                t = int(float(str.__str__(v)))
            elif isinstance(v, (str, bool)):
                t = int(float(v))
            else:  # null, object, array: float() raises TypeError
                raise TypeError
        except (TypeError, ValueError, OverflowError):
            t = now
    if t > 10_000_000_000:
        t //= 1000
    if t < 1577836800 or t > now + 86400:
        t = now
    return t


def messages_of(chat_text):
    """SPEC 2.1-2.2: the chat column's text -> the history.messages dict, or None."""
    if chat_text is None:
        return None
    try:
        doc = loads(chat_text)
    except (ValueError, RecursionError):
        return None  # cannot happen for text PostgreSQL's json accepts
    if not truthy(doc):
        return None
    if isinstance(doc, str) and not isinstance(doc, Num):  # double-encoded
        try:
            doc = loads(doc)
        except (ValueError, RecursionError):
            return None
    if not isinstance(doc, dict):
        return None
    history = doc.get("history")
    if not isinstance(history, dict):
        return None
    messages = history.get("messages")
    if not isinstance(messages, dict):
        return None
    return messages


def transform_message(chat_id, user_id, key, message, now):
    """-> row dict, or None (skipped by rule); raises Reject."""
    if not isinstance(message, dict):
        return None
    role = message.get("role")
    if not truthy(role):
        return None
    row_id = check_text("%s-%s" % (chat_id, key), "id")
    t = timestamp(message, now)
    row = {"id": row_id, "chat_id": chat_id, "user_id": user_id,
           "role": text_column(role, "role"),
           "parent_id": text_column(message.get("parentId"), "parent_id"),
           "model_id": text_column(message.get("model"), "model_id"),
           "done": done_column(message),
           "created_at": t, "updated_at": t}
    for col, field in (("content", "content"), ("output", "output"), ("files", "files"),
                       ("sources", "sources"), ("embeds", "embeds"),
                       ("status_history", "statusHistory"), ("error", "error"),
                       ("usage", "usage")):
        row[col] = message.get(field)
    return row


def selected(user_id):
    """The reader's WHERE NOT (user_id LIKE 'shared-%'): NULL user_id is not selected."""
    return user_id is not None and not user_id.startswith("shared-")


def transform_chat(chat_id, user_id, chat_text, now):
    """Yields ("row", row dict) and ("reject", {"id","chat_id","reason"})."""
    if not selected(user_id):
        return
    messages = messages_of(chat_text)
    if messages is None:
        return
    for key, message in messages.items():
        try:
            row = transform_message(chat_id, user_id, key, message, now)
        except Reject as e:
            yield "reject", {"id": "%s-%s" % (chat_id, key), "chat_id": chat_id,
                             "reason": str(e)}
            continue
        if row is not None:
            yield "row", row


def row_line(row):
    parts = []
    for c in COLUMNS:
        v = row[c]
        parts.append(json.dumps(c) + ":" + (dumps(v) if c in JSON_COLUMNS else json.dumps(v)))
    return "{" + ",".join(parts) + "}"


def reject_line(rej):
    return json.dumps({"reject": rej})


def run(lines, now, out):
    """Process input JSON lines; returns (chats, rows, rejects)."""
    chats = rows = rejects = 0
    for line in lines:
        if not line.strip():
            continue
        src = json.loads(line)
        chats += 1
        for kind, obj in transform_chat(src["id"], src["user_id"], src["chat"], now):
            if kind == "row":
                rows += 1
                out.write(row_line(obj) + "\n")
            else:
                rejects += 1
                out.write(reject_line(obj) + "\n")
    return chats, rows, rejects


def main():
    import argparse
    ap = argparse.ArgumentParser(description="SPEC section 2 transform, reference version")
    ap.add_argument("--now", type=int, required=True, help="epoch seconds of the run start")
    a = ap.parse_args()
    inp = open(sys.stdin.fileno(), "r", encoding="utf-8", closefd=False)
    out = open(sys.stdout.fileno(), "w", encoding="utf-8", closefd=False)
    chats, rows, rejects = run(inp, a.now, out)
    out.flush()
    sys.stderr.write("oracle: %d chats, %d rows, %d rejects\n" % (chats, rows, rejects))


if __name__ == "__main__":
    main()
