#!/usr/bin/env python3
"""gen_current_message.py - deterministic database at Open WebUI's alembic 856c5b02fb54 for the
chat.current_message_id job (SPEC section 6, revision 9a1b2c3d4e5f).

  --ddl [--schema S] [--chat-type json|jsonb] [--no-current-column]
        SQL creating the 856c5b02fb54 state, limited to what the job reads or checks
  --upgrade-ddl [--schema S]
        SQL taking a database at 8452d01d26d7 (as sluice's first job leaves it) to that state:
        the test's stand-in for Open WebUI's own `alembic upgrade 856c5b02fb54`
  --chats N --seed S [--schema S] [--chat-type ...] [--no-current-column] [--expect FILE]
        a psql script (COPY ... FROM STDIN) loading N chats and, for path-A chats, their
        chat_message rows; --expect writes one JSON line per chat, what it was built to give:
        {"id", "kind", "results": [texts]} or {"id", "kind", "reject": true}

Most chats are ordinary conversations (rows consistent with the blob, current_message_id mostly
NULL, sometimes set, stale or prefixed); about a quarter are the hard cases of issue 20 (see
KINDS): list-form messages, candidates with and without the prefix and not strings, cycles,
ties, milliseconds, string/number timestamp mixes, duplicate keys, blobs that are not objects,
rows without blob entries and blob entries without rows.  Same arguments, same bytes.
"""
import argparse
import json
import os
import random  # only random.Random instances are used, never the global RNG
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no scripts/__pycache__ in the source tree
from gen_openwebui import copy_field  # noqa: E402

REVISION = "856c5b02fb54"  # the parent of 9a1b2c3d4e5f
J = json.dumps


def quote(name):
    return '"' + name.replace('"', '""') + '"'


def ddl(schema, chat_type, current_column):
    q = quote(schema)
    create = "" if schema == "public" else "CREATE SCHEMA IF NOT EXISTS %s;\n" % q
    current = ',\n    "current_message_id" text' if current_column else ""
    return create + f"""CREATE TABLE {q}."chat" (
    "id" varchar NOT NULL PRIMARY KEY,
    "user_id" varchar,
    "chat" {chat_type},
    "updated_at" bigint,
    "tasks" json,
    "summary" text,
    "last_read_at" bigint{current}
);
CREATE TABLE {q}."chat_message" (
    "id" text NOT NULL PRIMARY KEY,
    "chat_id" text NOT NULL REFERENCES {q}."chat" ("id") ON DELETE CASCADE,
    "parent_id" text,
    "created_at" bigint,
    "context_summary" text,
    "meta" json
);
CREATE INDEX "ix_chat_message_chat_id" ON {q}."chat_message" ("chat_id");
CREATE TABLE {q}."alembic_version" (
    "version_num" varchar(32) NOT NULL,
    CONSTRAINT "alembic_version_pkc" PRIMARY KEY ("version_num")
);
INSERT INTO {q}."alembic_version" VALUES ('{REVISION}');
"""


def upgrade_ddl(schema):
    """8452d01d26d7 -> 856c5b02fb54 as far as the job can see: c1d2e3f4a5b6 removes the
    `shared-%` chats and their rows (Open WebUI copies them to shared_chat first), a3dd5bedd151
    and b7c8d9e0f1a2 add chat columns, 4c5ce3d2f27f and 856c5b02fb54 chat_message ones."""
    q = quote(schema)
    return f"""BEGIN;
DELETE FROM {q}."chat_message" WHERE "chat_id" IN
    (SELECT "id" FROM {q}."chat" WHERE "user_id" LIKE 'shared-%');
DELETE FROM {q}."chat" WHERE "user_id" LIKE 'shared-%';
ALTER TABLE {q}."chat" ADD COLUMN "tasks" json, ADD COLUMN "summary" text,
    ADD COLUMN "last_read_at" bigint;
UPDATE {q}."chat" SET "last_read_at" = "updated_at";
ALTER TABLE {q}."chat_message" ADD COLUMN "context_summary" text, ADD COLUMN "meta" json;
UPDATE {q}."alembic_version" SET "version_num" = '{REVISION}'
    WHERE "version_num" = '8452d01d26d7';
COMMIT;
"""


# ---------------------------------------------------------------- one chat
class Chat:
    """What one generated chat is: its blob text, rows (key or full id, parent_id,
    created_at), current value and the results it was built to give (None: a reject)."""

    def __init__(self, cid, blob, rows=(), current=None, results=(), reject=False):
        self.cid, self.blob, self.current = cid, blob, current
        self.rows = [("%s-%s" % (cid, k) if isinstance(k, str) else k[0], p, t)
                     for k, p, t in rows]  # a key, or (full id,) for an id of its own
        self.results = None if reject else set(results)


def obj(*pairs):
    """A JSON object from (key, value JSON text) pairs, duplicates and order as given."""
    return "{" + ",".join(J(k) + ":" + v for k, v in pairs) + "}"


def msg(key, parent, ts, role="user"):
    """A message as Open WebUI's history.messages holds it (ts: JSON text)."""
    return obj(("id", J(key)), ("parentId", J(parent)), ("childrenIds", "[]"), ("role", J(role)),
               ("content", J("message %s" % key[:8])), ("timestamp", ts))


def blob(messages, current_id=None, top=()):
    """Open WebUI's chat document: messages are (key, message text) pairs."""
    history = obj(("messages", obj(*messages)), ("currentId", J(current_id)))
    return obj(("id", '""'), ("title", '"chat"'), ("models", '["gpt-4o"]'), ("history", history),
               *top)


class Gen:
    def __init__(self, seed, chat_type, current_column):
        self.rng = random.Random("current-message-%s" % seed)
        self.jsonb, self.column = chat_type == "jsonb", current_column

    def uid(self):
        r = self.rng.getrandbits(128)
        h = "%032x" % r
        return "%s-%s-4%s-a%s-%s" % (h[:8], h[8:12], h[13:16], h[17:20], h[20:])

    def first(self, keys):
        """The first of keys in the object's order as the job reads it back (jsonb sorts
        keys: shorter first, then bytewise)."""
        if self.jsonb:
            return min(keys, key=lambda k: (len(k.encode()), k.encode()))
        return keys[0]

    def conversation(self, n):
        """n messages, a tree of regenerations: [(key, parent, ts)] in creation order, seconds
        strictly increasing (so the last one is the newest leaf)."""
        out, t, parent = [], 1717000000 + self.rng.randrange(10 ** 7), None
        for i in range(n):
            if i > 1 and i % 2 and self.rng.random() < 0.3:  # a regenerated answer: a sibling
                parent = out[-1][1]
            t += 1 + self.rng.randrange(600)
            key = self.uid()
            out.append((key, parent, t))
            parent = key
        return out

    def normal(self, cid):
        """An ordinary chat: rows match the blob; the column mostly NULL."""
        conv = self.conversation(2 + self.rng.randrange(14))
        keys = [k for k, _, _ in conv]
        messages = [(k, msg(k, p, str(t), ("user", "assistant")[i % 2])) for i, (k, p, t)
                    in enumerate(conv)]
        r = self.rng.random()  # history.currentId: the newest, an older branch, or unset
        hist_current = keys[-1] if r < 0.8 else self.rng.choice(keys) if r < 0.9 else None
        rows = [(k, p, t) for k, p, t in conv]
        expected = hist_current or keys[-1]
        current, r = None, self.rng.random()
        if self.column and r < 0.15:
            current = expected  # already right: nothing written
        elif self.column and r < 0.2:
            current = self.rng.choice(keys)  # another key: kept
            expected = current
        elif self.column and r < 0.25:
            current = "%s-%s" % (cid, expected)  # prefixed: the stripped key is written
        elif self.column and r < 0.3:
            current = self.uid()  # stale: replaced
        top = [("messages", "[" + ",".join(m for _, m in messages) + "]")]
        return Chat(cid, blob(messages, hist_current, top), rows, current, {expected})


# ---------------------------------------------------------------- the kinds
def k_list_form(g, cid):
    """An old chat: top-level `messages` only, no rows; items without an id are skipped."""
    conv = g.conversation(2 + g.rng.randrange(6))
    items = [obj(("id", J(k)), ("parentId", J(p)), ("role", '"user"'), ("timestamp", str(t)))
             for k, p, t in conv]
    last = conv[-1][0]
    extra = ['{"id":""}', '{"id":null,"timestamp":99999999999}', '"text"', '{"content":"no id"}']
    history = g.rng.choice(('"history":{"messages":{},"currentId":null},', "", '"history":5,'))
    return Chat(cid, "{%s\"messages\":[%s]}" % (history, ",".join(items + extra)),
                results={last})


def k_list_numeric_ids(g, cid):
    """ids 7, 1.5, true: the string candidate "7" is none of them; the leaf true is 'true'."""
    return Chat(cid, '{"currentId":"7","messages":[{"id":7,"timestamp":1},{"id":1.5,'
                     '"parentId":7,"timestamp":2},{"id":true,"parentId":1.5,"timestamp":3}]}',
                results={"true"})


def k_list_unhashable(g, cid):
    k = g.uid()
    return Chat(cid, '{"messages":[{"id":%s,"timestamp":1},{"id":["x"]}]}' % J(k),
                [(k, None, 1)] if g.rng.random() < 0.5 else [], reject=True)


def k_no_rows(g, cid):
    """A dict-form chat whose messages had no role (the first job wrote no rows)."""
    conv = g.conversation(2 + g.rng.randrange(5))
    keys = [k for k, _, _ in conv]
    messages = [(k, msg(k, p, str(t), None)) for k, p, t in conv]
    cur = g.rng.choice(keys) if g.rng.random() < 0.5 else g.uid()  # a key, or stale
    return Chat(cid, blob(messages, cur), results={cur if cur in keys else keys[-1]})


def k_empty(g, cid):
    text = g.rng.choice((None, "{}", '{"history":{"messages":{},"currentId":null},"messages":[]}',
                         "null", "[]", '"not json"', "5", '{"history":[]}'))
    current = g.uid() if g.column and g.rng.random() < 0.5 else None
    return Chat(cid, text, current=current)  # the column's value is no key: nothing written


def k_not_object_with_rows(g, cid):
    """A blob that counts as {} beside rows: only the column is a candidate."""
    a, b = g.uid(), g.uid()
    current = a if g.column else None
    return Chat(cid, g.rng.choice(("[1,2]", "true", '"x"', None)), [(a, None, 5), (b, a, 6)],
                current, {a if current else b})


def k_double_encoded(g, cid):
    a, b = g.uid(), g.uid()
    inner = blob([(a, msg(a, None, "1")), (b, msg(b, a, "2"))], a)
    return Chat(cid, J(inner), results={a})


def k_candidate_prefixed(g, cid):
    conv = g.conversation(4)
    keys = [k for k, _, _ in conv]
    pick = keys[1]
    where = g.rng.randrange(3)
    hist = "%s-%s" % (cid, pick) if where == 0 else None
    top = [("currentId", J("%s-%s" % (cid, pick)))] if where == 1 else []
    top += [("branchPointMessageId", J("%s-%s" % (cid, pick)))] if where == 2 else []
    return Chat(cid, blob([(k, msg(k, p, str(t))) for k, p, t in conv], hist, top),
                [(k, p, t) for k, p, t in conv], results={pick})


def k_candidate_not_string(g, cid):
    conv = g.conversation(3)
    v = g.rng.choice(("5", "true", "{}", "[]", '""', "1.5", '["%s"]' % conv[0][0]))
    rows = [(k, p, t) for k, p, t in conv] + [("5", None, 0), ("true", None, 0)]
    top = [("currentId", v), ("branchPointMessageId", v)]
    messages = [(k, msg(k, p, str(t))) for k, p, t in conv]
    return Chat(cid, blob(messages, None, top).replace('"currentId":null', '"currentId":%s' % v, 1),
                rows, results={conv[-1][0]})


def k_candidate_stale(g, cid):
    """Candidates that are not keys fall through, in order, to the branch point."""
    conv = g.conversation(4)
    keys = [k for k, _, _ in conv]
    top = [("currentId", J(g.uid())), ("branchPointMessageId", J(keys[0]))]
    return Chat(cid, blob([(k, msg(k, p, str(t))) for k, p, t in conv], g.uid(), top),
                [(k, p, t) for k, p, t in conv], g.uid() if g.column else None, {keys[0]})


def k_prefix_only_candidate(g, cid):
    """history.currentId exactly "<id>-": "" is a key of the blob and found first (path B), so
    the newest leaf decides, not the later candidate a."""
    a, b = g.uid(), g.uid()
    text = blob([("", msg("x", None, "5")), (a, msg(a, None, "1")), (b, msg(b, None, "9"))],
                cid + "-", [("currentId", J(a))])
    return Chat(cid, text, results={b})


def k_cycle(g, cid):
    a, b, x, y = g.uid(), g.uid(), g.uid(), g.uid()
    if g.rng.random() < 0.5:  # path A: a two-cycle beside a chain
        rows = [(a, b, 50), (b, a, 70), (x, None, 1), (y, x, 2)]
        return Chat(cid, "{}", rows, results={y})
    messages = [(a, msg(a, b, "3")), (b, msg(b, a, "4")), (x, msg(x, x, "2"))]
    return Chat(cid, blob(messages), results={b})


def k_tie_rows(g, cid):
    a, b, d = g.uid(), g.uid(), g.uid()
    return Chat(cid, blob([(a, msg(a, None, "1"))]), [(a, None, 1), (b, a, 8), (d, a, 8)],
                results={b, d})


def k_tie_blob(g, cid):
    keys = [g.uid() for _ in range(3)]
    messages = [(k, msg(k, None, "1717000000")) for k in keys]
    return Chat(cid, blob(messages), results={g.first(keys)})


def k_milliseconds(g, cid):
    s, ms = g.uid(), g.uid()
    messages = [(s, msg(s, None, "1717999999")), (ms, msg(ms, None, "1717000000000"))]
    if g.rng.random() < 0.5:
        return Chat(cid, blob(messages), results={ms})
    return Chat(cid, blob(messages), [(s, None, 1717999999), (ms, None, 1717000000000)],
                results={ms})


def k_mixed_timestamps(g, cid):
    a, b = g.uid(), g.uid()
    messages = [(a, msg(a, None, '"1717000000"')), (b, msg(b, None, "1717000001"))]
    r = g.rng.random()
    if r < 0.5:
        return Chat(cid, blob(messages), current=g.uid() if g.column else None, reject=True)
    if r < 0.75:  # a candidate decides: nothing compared
        return Chat(cid, blob(messages, b), results={b})
    return Chat(cid, blob(messages), [(a, None, 1), (b, None, 2)], results={b})  # path A


def k_falsy_timestamps(g, cid):
    a, b = g.uid(), g.uid()
    v = g.rng.choice(("null", "false", '""', "0", "[]"))
    return Chat(cid, blob([(a, msg(a, None, "-5")), (b, msg(b, None, v))]), results={b})


def k_odd_numbers(g, cid):
    a, b = g.uid(), g.uid()
    ta, tb, win = g.rng.choice((("true", "1", g.first([a, b])), ("1717000000", "1717000000.5", b),
                                ("9007199254740992.0", "9007199254740993", b)))  # true == 1: a tie
    return Chat(cid, blob([(a, msg(a, None, ta)), (b, msg(b, None, tb))]), results={win})


def k_duplicate_keys(g, cid):
    a, b, d = g.uid(), g.uid(), g.uid()
    messages = [(a, msg(a, None, "1")), (b, msg(b, None, "5")), (a, msg(a, b, "9")),
                (d, msg(d, None, "2"))]
    text = blob(messages, None, [("currentId", J(d)), ("currentId", "null")])
    return Chat(cid, text, results={a})  # b is a's parent now; a (9) beats d (2)


def k_history_not_object(g, cid):
    a, b = g.uid(), g.uid()
    text = '{"history":%s,"branchPointMessageId":%s}' % (g.rng.choice(('[]', '"x"', "7")), J(a))
    return Chat(cid, text, [(a, None, 1), (b, a, 2)], results={a})


def k_non_object_messages(g, cid):
    a, b, d = g.uid(), g.uid(), g.uid()
    text = '{"history":{"messages":{%s:5,%s:"text",%s:{"timestamp":-1}}}}' % (J(a), J(b), J(d))
    return Chat(cid, text, results={g.first([a, b])})  # a and b: time 0, d: -1


def k_unhashable_parent(g, cid):
    a, b = g.uid(), g.uid()
    return Chat(cid, blob([(a, msg(a, None, "1")), (b, obj(("parentId", '{"x":1}'), ("timestamp", "2")))]),
                reject=True)


def k_empty_key(g, cid):
    """A key "" (the first job writes row "<id>-" for it): never written, never a key."""
    a = g.uid()
    if g.rng.random() < 0.5:
        text = blob([("", msg("e", None, "9")), (a, msg(a, None, "1"))])
        current = g.uid() if g.column else None
        return Chat(cid, text, current=current, results={""})
    return Chat(cid, blob([(a, msg(a, None, "1"))]), [(("%s-" % cid,), None, 9), (a, None, 1)],
                results={a})


def k_rows_extra(g, cid):
    """A row the blob lost, newest of all."""
    conv = g.conversation(4)
    extra = g.uid()
    rows = [(k, p, t) for k, p, t in conv] + [(extra, conv[-1][0], conv[-1][2] + 60)]
    return Chat(cid, blob([(k, msg(k, p, str(t))) for k, p, t in conv]), rows, results={extra})


def k_rows_missing(g, cid):
    """The blob's newest message has no row: the rows' newest leaf, not the blob's currentId."""
    conv = g.conversation(5)
    rows = [(k, p, t) for k, p, t in conv[:-1]]
    return Chat(cid, blob([(k, msg(k, p, str(t))) for k, p, t in conv], conv[-1][0]), rows,
                results={conv[-2][0]})


def k_rows_odd(g, cid):
    """Rows with a prefixed parent_id, a NULL created_at, an id without the prefix."""
    a, b, u = g.uid(), g.uid(), "u" + g.uid()
    r = g.rng.random()
    if r < 0.4:
        return Chat(cid, "{}", [(a, None, 9), (b, "%s-%s" % (cid, a), 1)], results={b})
    if r < 0.8:
        return Chat(cid, "{}", [(a, None, None), (b, None, 0)], results={a, b})
    return Chat(cid, '{"currentId":%s}' % J(u), [((u,), None, 1), (a, None, 9)], results={u})


def k_unstorable(g, cid):
    """A result or candidate holding NUL or a lone surrogate: upstream cannot send it."""
    a = g.uid()
    bad = g.rng.choice(("a\u0000b", "\udc00"))
    if g.rng.random() < 0.5:
        return Chat(cid, blob([(bad, msg("x", None, "9")), (a, msg(a, None, "1"))]), reject=True)
    return Chat(cid, blob([(a, msg(a, None, "1"))], bad), [(a, None, 1)], reject=True)


KINDS = [  # (name, builder, weight per 1000 chats, json only)
    ("list_form", k_list_form, 40, False), ("list_numeric_ids", k_list_numeric_ids, 8, False),
    ("list_unhashable", k_list_unhashable, 6, False), ("no_rows", k_no_rows, 30, False),
    ("empty", k_empty, 30, False), ("not_object_with_rows", k_not_object_with_rows, 10, False),
    ("double_encoded", k_double_encoded, 8, False),
    ("candidate_prefixed", k_candidate_prefixed, 15, False),
    ("candidate_not_string", k_candidate_not_string, 10, False),
    ("candidate_stale", k_candidate_stale, 10, False),
    ("prefix_only_candidate", k_prefix_only_candidate, 4, False), ("cycle", k_cycle, 10, False),
    ("tie_rows", k_tie_rows, 10, False), ("tie_blob", k_tie_blob, 10, False),
    ("milliseconds", k_milliseconds, 10, False),
    ("mixed_timestamps", k_mixed_timestamps, 10, False),
    ("falsy_timestamps", k_falsy_timestamps, 6, False), ("odd_numbers", k_odd_numbers, 6, False),
    ("duplicate_keys", k_duplicate_keys, 8, False),
    ("history_not_object", k_history_not_object, 6, False),
    ("non_object_messages", k_non_object_messages, 4, False),
    ("unhashable_parent", k_unhashable_parent, 4, False), ("empty_key", k_empty_key, 4, False),
    ("rows_extra", k_rows_extra, 12, False), ("rows_missing", k_rows_missing, 12, False),
    ("rows_odd", k_rows_odd, 10, False), ("unstorable", k_unstorable, 4, True),
]


def make(g, i, kinds):
    """The i-th chat: (kind, Chat)."""
    cid = g.uid()
    if i % 97 == 5:  # a chat id with dashes, as non-UUID ids are
        cid = "chat-%d" % i
        key = "x-%d" % i
        return "dashed_chat_id", Chat(cid, '{"currentId":%s}' % J("%s-%s" % (cid, key)),
                                      [(key, None, 1), ("other", None, 2)], results={key})
    r = g.rng.randrange(1000)
    for name, build, weight, _ in kinds:
        if r < weight:
            return name, build(g, cid)
        r -= weight
    return "normal", g.normal(cid)


# ---------------------------------------------------------------- output
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ddl", action="store_true", help="print the 856c5b02fb54 DDL and exit")
    ap.add_argument("--upgrade-ddl", action="store_true",
                    help="print the 8452d01d26d7 -> 856c5b02fb54 stand-in and exit")
    ap.add_argument("--schema", default="public")
    ap.add_argument("--chat-type", choices=("json", "jsonb"), default="json")
    ap.add_argument("--no-current-column", action="store_true",
                    help="chat without current_message_id (the state Open WebUI leaves)")
    ap.add_argument("--chats", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--expect", help="write what each chat was built to give here")
    a = ap.parse_args()
    if a.ddl or a.upgrade_ddl:
        sys.stdout.write(ddl(a.schema, a.chat_type, not a.no_current_column) if a.ddl
                         else upgrade_ddl(a.schema))
        return
    g = Gen(a.seed, a.chat_type, not a.no_current_column)
    kinds = [k for k in KINDS if not (k[3] and g.jsonb)]  # jsonb refuses NUL and surrogates
    chats, counts = [], {}
    for i in range(a.chats):
        kind, chat = make(g, i, kinds)
        chats.append((kind, chat))
        counts[kind] = counts.get(kind, 0) + 1
    write_sql(sys.stdout, a.schema, chats, not a.no_current_column)
    if a.expect:
        with open(a.expect, "w", encoding="utf-8") as f:
            for kind, c in chats:
                line = {"id": c.cid, "kind": kind}
                if c.results is None:
                    line["reject"] = True
                else:
                    line["results"] = sorted(c.results)
                f.write(J(line) + "\n")
    sys.stderr.write("gen_current_message: %d chats, %d rows; %s\n" % (
        len(chats), sum(len(c.rows) for _, c in chats),
        ", ".join("%s %d" % kv for kv in sorted(counts.items()))))


def write_sql(out, schema, chats, current_column):
    q = quote(schema)
    cols = '"id", "user_id", "chat", "updated_at"' + (', "current_message_id"' if current_column else "")
    out.write('COPY %s."chat" (%s) FROM STDIN;\n' % (q, cols))
    for i, (_, c) in enumerate(chats):
        fields = [c.cid, "user-%d" % (i % 37), copy_field(c.blob), str(1717000000 + i)]
        out.write("\t".join(fields + ([copy_field(c.current)] if current_column else [])) + "\n")
    out.write("\\.\n")
    out.write('COPY %s."chat_message" ("id", "chat_id", "parent_id", "created_at") FROM STDIN;\n' % q)
    for _, c in chats:
        for rid, parent, t in c.rows:
            out.write("\t".join((copy_field(rid), c.cid, copy_field(parent),
                                 "\\N" if t is None else str(t))) + "\n")
    out.write("\\.\n")


if __name__ == "__main__":
    main()
