#!/usr/bin/env python3
"""gen_openwebui.py - deterministic Open WebUI `chat` table generator for sluice tests.

  --ddl [--schema S] [--chat-type json|jsonb]   SQL creating Open WebUI's `chat` and
                                                `alembic_version` ('374d2f66af06') tables
  --chats N --seed S [--format copy|jsonl] ... rows on stdout: COPY text rows for
                                                `\\copy chat FROM STDIN`, or JSON lines
                                                {"id","user_id","chat"} for the differential test

Rows: N "slots" (normal chats, ~3% of them `shared-<chat id>` copies, a few NULL user_id /
NULL chat), plus the awkward documents of SPEC section 2 (unless --no-awkward; see
awkward_kinds()) and --big-chats K chats of ~--big-chat-mb MB.
Everything comes from random.Random streams seeded by --seed: same arguments, same bytes.
The chat JSON is built as text by hand (fast, and able to hold what json.dumps can't).
"""
import argparse
import base64
import json
import random  # only random.Random instances are used, never the global RNG
import sys


def ddl(schema, chat_type):
    q = '"' + schema.replace('"', '""') + '"'
    create = "" if schema == "public" else f"CREATE SCHEMA IF NOT EXISTS {q};\n"
    return create + f"""CREATE TABLE IF NOT EXISTS {q}."chat" (
    "id" text NOT NULL PRIMARY KEY,
    "user_id" text,
    "title" text,
    "chat" {chat_type},
    "created_at" bigint,
    "updated_at" bigint,
    "share_id" text UNIQUE,
    "archived" boolean,
    "pinned" boolean,
    "meta" json DEFAULT '{{}}',
    "folder_id" text
);
CREATE TABLE IF NOT EXISTS {q}."alembic_version" (
    "version_num" varchar(32) NOT NULL,
    CONSTRAINT "alembic_version_pkc" PRIMARY KEY ("version_num")
);
INSERT INTO {q}."alembic_version" ("version_num")
    SELECT '374d2f66af06' WHERE NOT EXISTS (SELECT 1 FROM {q}."alembic_version");
"""


# ---------------------------------------------------------------- text corpus
_ONSETS = ["", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t",
           "v", "w", "z", "br", "cr", "dr", "fl", "gr", "pl", "pr", "sh", "st", "str", "th",
           "tr", "ch", "sk", "sp", "qu", "kl"]
_NUCLEI = ["a", "e", "i", "o", "u", "ai", "ea", "ee", "io", "ou", "oo", "y"]
_CODAS = ["", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ck", "ng", "x", "rt"]
_EXTRA = ["the", "a", "of", "to", "and", "in", "is", "that", "for", "it", "with", "as", "on",
          "be", "this", "you", "can", "use", "function", "return", "SELECT", "FROM", "WHERE",
          "def", "class", "import", "print()", "x=42", "i++", "{}", "[]", "->", "=>", "##",
          "**Note:**", "```python", "```", "-", "1.", "2.", "3.", ":", ";", ",", ".", "?",
          "(see", "above)", "e.g.", "i.e.", "http://example.com/docs", "/usr/lib", "C:/tmp",
          r"\n", r"\n\n", r"\n-", r"\t", r"\"quoted\"", r"\\", r"\/", "'single'",
          r"caf\u00e9", r"na\u00efve", r"Gr\u00f6\u00dfe", r"\u65e5\u672c\u8a9e",
          r"\u6570\u636e\u5e93", r"\u043f\u0440\u043e\u0432\u0435\u0440\u043a\u0430",
          r"\ud83d\ude80", r"\ud83d\ude00", r"\u2014", r"\u2019s"]
_RAW_EXTRA = ["café", "naïve", "Größe", "日本語", "数据库", "проверка", "🚀", "😀", "—", "ñandú",
              "中文字符", "한국어", "emoji✨"]
MODELS = ["llama3.1:8b", "gpt-4o", "gpt-4o-mini", "qwen2.5:14b", "mistral:7b",
          "claude-3-5-sonnet", "deepseek-r1:32b", "gemma2:9b", "phi3:mini", "o1-preview"]


class Corpus:
    """A few MB of JSON-string-safe text (escapes kept whole between spaces) to slice from."""

    def __init__(self, rng, n_words, raw):
        vocab = set()
        while len(vocab) < 8000:
            vocab.add("".join(rng.choice(_ONSETS) + rng.choice(_NUCLEI) + rng.choice(_CODAS)
                              for _ in range(rng.choice((1, 1, 2, 2, 2, 3, 3, 4)))))
        vocab = sorted(vocab) + _EXTRA * 20 + (_RAW_EXTRA * 60 if raw else [])
        self.plain = [w for w in sorted(set(vocab)) if w.isalpha() and w.isascii()]
        words = rng.choices(vocab, k=n_words)
        for i in range(0, n_words, 11):  # random tokens: ids, hashes, numbers
            r = rng.getrandbits(64)
            words[i] = ("%x" % r, "%d" % (r >> 40), "sk-%o" % r)[r % 3]
        self.text = " ".join(words) + " "
        self.n = len(self.text)
        self.rng = rng

    def take(self, n):
        t = self.text
        s = t.find(" ", self.rng.randrange(self.n - n - 200)) + 1
        return t[s:t.find(" ", s + n)]

    def title(self):
        return " ".join(self.rng.choices(self.plain, k=self.rng.randint(2, 6))).capitalize()


# ---------------------------------------------------------------- realistic chats
class Gen:
    def __init__(self, seed, n_chats, small=False):
        # small: a tenth of every text length and no assistant extras (usage, sources...)
        self.small = small
        self.rng = rng = random.Random(seed)
        self.rng_aux = random.Random("aux-%s" % seed)
        self.c = Corpus(rng, 1_200_000, raw=False)
        self.raw = Corpus(random.Random("raw-%s" % seed), 150_000, raw=True)
        self.users = [self.uuid() for _ in range(max(20, n_chats // 25))]

    def uuid(self, rng=None):
        h = "%032x" % (rng or self.rng).getrandbits(128)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[ord(h[16]) & 3]}{h[17:20]}-{h[20:]}"

    def n_pairs(self):
        r = self.rng.random()
        if r < 0.85:
            return self.rng.randint(1, 8)
        if r < 0.97:
            return self.rng.randint(8, 20)
        if r < 0.995:
            return self.rng.randint(20, 80)
        return self.rng.randint(80, 200)

    def length(self, median, lo, hi):
        if self.small:
            median, lo, hi = max(1, median // 10), max(1, lo // 10), max(1, hi // 10)
        return max(lo, min(hi, int(self.rng.lognormvariate(0, 0.8) * median)))

    def assistant_extras(self, c, model):
        rng = self.rng
        parts = []
        r = rng.random()
        pt, ct = rng.randint(20, 8000), rng.randint(10, 2000)
        if r < 0.9:
            parts.append('"usage":{"response_token/s":%.2f,"prompt_token/s":%.2f,'
                         '"total_duration":%d,"load_duration":%d,"prompt_eval_count":%d,'
                         '"prompt_eval_duration":%d,"eval_count":%d,"eval_duration":%d,'
                         '"approximate_total":"0h0m%ds","prompt_tokens":%d,'
                         '"completion_tokens":%d,"total_tokens":%d}' % (
                             rng.uniform(5, 150), rng.uniform(50, 3000),
                             rng.getrandbits(34), rng.getrandbits(26), pt, rng.getrandbits(30),
                             ct, rng.getrandbits(33), rng.randint(1, 59), pt, ct, pt + ct))
        elif r < 0.95:
            parts.append('"info":{"openai":true,"prompt_tokens":%d,"completion_tokens":%d,'
                         '"total_tokens":%d}' % (pt, ct, pt + ct))
        if rng.random() < 0.15:
            docs = ",".join('{"source":{"id":"%s","name":"%s.pdf","type":"file"},'
                            '"document":["%s"],"metadata":[{"source":"%s.pdf","page":%d,'
                            '"created_by":"%s"}],"distances":[%.6f]}' % (
                                self.uuid(), w, c.take(self.length(500, 150, 4000)), w,
                                rng.randint(1, 300), rng.choice(self.users), rng.random())
                            for w in rng.choices(c.plain, k=rng.randint(1, 3)))
            parts.append('"sources":[' + docs + ']')
        if rng.random() < 0.10:
            parts.append('"statusHistory":[{"action":"web_search","description":"Searching '
                         '\\"%s\\"","done":false},{"action":"web_search","description":'
                         '"Searched %d sites","urls":["https://example.com/%s"],"done":true}]'
                         % (c.take(30), rng.randint(1, 9), rng.choice(c.plain)))
        if rng.random() < 0.05:
            parts.append('"output":[{"type":"message","id":"msg_%x","status":"completed",'
                         '"role":"assistant","content":[{"type":"output_text","text":"%s"}]}]'
                         % (rng.getrandbits(64), c.take(self.length(300, 50, 2000))))
        if rng.random() < 0.01:
            parts.append('"error":{"content":"Ollama: 500, message=\'Internal Server Error\','
                         ' url=\'http://ollama:11434/api/chat\' %s"}' % c.take(40))
        if rng.random() < 0.01:
            parts.append('"embeds":["<iframe src=\\"https://example.com/e/%x\\"></iframe>"]'
                         % rng.getrandbits(48))
        if rng.random() < 0.03:
            parts.append('"followUps":["%s?","%s?"]' % (c.take(40), c.take(50)))
        return parts

    def chat_doc(self, big_mb=0):
        """Returns (chat json text, created_at seconds, title)."""
        rng = self.rng
        c = self.raw if rng.random() < 0.05 else self.c
        model = rng.choice(MODELS)
        t = rng.randrange(1672531200, 1748736000)  # 2023-01-01 .. 2025-06-01
        created = t
        ms = rng.random() < 0.08
        pairs = self.n_pairs() if not big_mb else 20
        regen = rng.randrange(pairs) if rng.random() < 0.08 else -1
        img = 0
        if big_mb:  # each image is stored twice (history + messages list)
            img = big_mb * 1048576 // (2 * pairs)
        hist, lst = [], []
        parent = "null"
        for p in range(pairs):
            uid, aid = self.uuid(), self.uuid()
            alt = self.uuid() if p == regen else None
            nxt = '"%s"' % self.uuid() if p < pairs - 1 else ""
            t += rng.randrange(5, 900)
            ts = t * 1000 + rng.randrange(1000) if ms else t
            files = ""
            if img:
                b64 = base64.b64encode(rng.randbytes(img * 3 // 4)).decode()
                files = ('"files":[{"type":"image","url":"data:image/png;base64,%s"}],' % b64)
            elif rng.random() < 0.05:
                f = rng.choice(c.plain)
                files = ('"files":[{"type":"file","file":{"id":"%s","filename":"%s.pdf",'
                         '"meta":{"name":"%s.pdf","content_type":"application/pdf","size":%d}},'
                         '"id":"%s","url":"/api/v1/files/%s","name":"%s.pdf","status":'
                         '"uploaded","size":%d,"error":"","itemId":"%s"}],' % (
                             self.uuid(), f, f, rng.getrandbits(22), self.uuid(), self.uuid(),
                             f, rng.getrandbits(22), self.uuid()))
            kids = '"%s"' % aid if alt is None else '"%s","%s"' % (alt, aid)
            um = ('{"id":"%s","parentId":%s,"childrenIds":[%s],"role":"user","content":"%s",'
                  '%s"timestamp":%d,"models":["%s"]}' % (
                      uid, parent, kids, c.take(self.length(90, 10, 2000)), files, ts, model))
            hist.append('"%s":%s' % (uid, um))
            lst.append(um)
            for mid, kid in ((alt, ""), (aid, nxt)):
                if mid is None:
                    continue
                t += rng.randrange(2, 120)
                ts = t * 1000 + rng.randrange(1000) if ms else t
                r = rng.random()
                done = ',"done":true' if r < 0.97 else (',"done":false' if r < 0.98 else "")
                am = ",".join([
                    '{"parentId":"%s","id":"%s","childrenIds":[%s],"role":"assistant",'
                    '"content":"%s","model":"%s","modelName":"%s","modelIdx":0,'
                    '"userContext":null,"timestamp":%d%s' % (
                        uid, mid, kid, c.take(self.length(450, 60, 9000)), model, model, ts,
                        done)] + ([] if self.small else self.assistant_extras(c, model))) + "}"
                hist.append('"%s":%s' % (mid, am))
                if mid == aid:
                    lst.append(am)
            parent = '"%s"' % aid
        title = c.title() if c is self.c else self.c.title()
        doc = ('{"id":"","title":"%s","models":["%s"],"params":{},"history":{"messages":{%s},'
               '"currentId":%s},"messages":[%s],"tags":[],"timestamp":%d,"files":[]}' % (
                   title, model, ",".join(hist), parent, ",".join(lst), created * 1000))
        return doc, created, title, t


# ---------------------------------------------------------------- awkward documents
def _m(*fields):
    return "{" + ",".join(fields) + "}"


def _chat(members, pre="", post=""):
    """members: (key as JSON string body, message JSON text)."""
    return ('{"id":"","title":"awkward",%s"history":{"messages":{%s},"currentId":null}%s,'
            '"timestamp":1717000000000}' % (pre, ",".join('"%s":%s' % kv for kv in members),
                                            post))


U = '"role":"user"'
GOOD = _m(U, '"content":"neighbour"', '"timestamp":1717000000')


def _each(field, values, extra=(U,)):
    """One message per value of `field` (raw JSON text), next to a good neighbour."""
    return _chat([("v%02d" % i, _m(*extra, '"%s":%s' % (field, v), '"content":"%s %d"'
                                   % (field, i))) for i, v in enumerate(values)]
                 + [("absent", _m(*extra, '"content":"absent"')), ("good", GOOD)])


def awkward_kinds(jsonb):
    """(kind, [chat column texts]); every text is JSON that PostgreSQL's json type accepts
    (and, with jsonb, that jsonb accepts: no lone surrogate or \\u0000 escapes)."""
    S = not jsonb
    sur = r'"\ud800"' if S else r'"\ud83d\ude00"'
    nul = r'"a\u0000b"' if S else r'"a\u0001b"'
    inner = _chat([("d1", _m(U, r'"content":"double caf\u00e9 \ud800"', '"timestamp":1717000'
                                                                         '000123')),
                   ("d2", GOOD), ("d3", _m('"role":5')), (r"\udc00", GOOD)])
    k = [("chat_falsy", ["null", "{}", "[]", '""', "0", "false", "0.0", "-0", " {} ", "[ ]"]),
         ("chat_not_object", ["true", "1", "-1.5e3", '[{"history":{"messages":{"a":%s}}}]'
                              % GOOD, '"x"', '"not json {"', '"[1,2]"', '"null"', '"\\"{}\\""',
                              '"{\\"history\\": 5}"', '"{} trailing"',
                              json.dumps('{"history":{"messages":{"n":{"role":"user",'
                                         '"content":NaN}}}}'),
                              json.dumps('{"history":{"messages":{"t":{"role":"user",'
                                         '"content":"raw\ttab"}}}}'),
                              ] + ([json.dumps('{"history":{"messages":{"z":'
                                               '{"role":"user"}}}}\u0000')] if S else [])),
         ("double_encoded", [json.dumps(inner), json.dumps(" \n" + inner + "\r\n "),
                             json.dumps(json.dumps(inner))]),
         ("history_types", ['{"history":[]}', '{"history":"x"}', '{"history":null}',
                            '{"history":5}', '{"title":"no history"}', '{"history":{}}',
                            '{"history":{"messages":[]}}',
                            '{"history":{"messages":[%s]}}' % GOOD,
                            '{"history":{"messages":"abc"}}', '{"history":{"messages":null}}',
                            '{"history":{"messages":{}}}', '{"history":{"messages":true}}',
                            '{"history":{"messages":{"h1":%s}},"history":5}' % GOOD,
                            '{"history":5,"history":{"messages":{"h2":%s}}}' % GOOD,
                            '{"history":{"messages":5,"messages":{"h3":%s}}}' % GOOD,
                            '{"history":{"messages":{"h4":%s},"messages":[]}}' % GOOD]),
         ("non_object_messages", [_chat([("a", "5"), ("b", '"str"'), ("c", "null"), ("d", "[]"),
                                         ("e", '[{"role":"user"}]'), ("f", "true"),
                                         ("g", GOOD), ("h", "{}"), ("i", "1.5"),
                                         ("j", '{"content":"no role"}')])]),
         ("roles", [_each("role", ["null", '""', "false", "0", "0.0", "-0.0", "0e10", "1e-400",
                                   "[]", "{}", "5", "true", '{"a":1}', "[1]", '"0"', '" "',
                                   '"system"', '"USER"', "1.50", "1E+2", "-7",
                                   "12345678901234567890123456789", r'"r\u00f4le"',
                                   '"ユーザー"', r'"\ud83d\ude00"', r'"tool\n"', r'"a\"b\\c"',
                                   "1e400", "-1e400", "1e20", "-2.5e-7", "-0.5", "1e16", "1e15"],
                            extra=())]),
         ("duplicate_keys", [_chat([
             ("k1", _m(U, '"content":"k1 first"')), ("k2", GOOD),
             ("k1", _m('"role":"assistant"', '"content":"k1 last"', '"done":false')),
             ("k3", GOOD), ("k3", "5"), ("k4", "5"), ("k4", _m(U, '"content":"k4 last"')),
             ("m5", _m(U, '"content":"m5 first"')), (r"\u006d5", _m(U, '"content":"m5 esc"')),
             ("k6", _m(U, '"content":"first"', '"role":"assistant"', '"content":"second"')),
             ("k7", _m(U, '"role":null')), ("k8", _m('"role":null', U)),
             ("k9", _m(U, '"timestamp":1717000000', '"timestamp":"junk"')),
             ("k10", _m(U, '"content":{"a":1,"b":2,"a":3}')),
             ("k11", _m(U, '"done":true', '"done":"yes"')),
             ("k12", _m(U, '"parentId":{"x":1}', '"parentId":"p"'))])]),
         ("timestamps", [_each("timestamp", [
             "null", "1717000000123", "1717000000.9", '"1717000001"', '" 1717000002 "',
             '"junk"', "true", "false", "1500000000", "4102444800",
             "123456789012345678901234567890", '"1e9"', '"inf"', '"nan"', '"-inf"',
             '"1717000003.5"', "-1717000000", "1717000000123.9", "1.5e300", "1e400", "[]",
             "{}", '""', '"0x10"', "17170000001234567", "10000000000", "10000000001",
             "1577836800", "1577836799", '"\\t1717000004\\n"', '"+1717000005"',
             '"1717000006."', '"1.717000007e9"', r'"\u0031717000008"', '"1_717_000_009"',
             '"١٧١٧٠٠٠٠١٠"', r'"\uff11\uff17\uff11\uff17\uff10\uff10\uff10\uff10\uff11\uff11"',
             r'"\u00a01717000012"', "1717000013e0", "0.1717000014e10", "-0"])]),
         # done: upstream stores a number equal to 1 or 0 (SQLAlchemy's Boolean), fails others
         ("done", [_each("done", ["true", "false", "null", '"yes"', "1", "0", '"true"', "[]",
                                  "{}", "1.0", "0.0", "1e0", "0E5", "-0", "-0.0", "1.00",
                                  "10e-1", "1e-400", "1.0000000000000001", "2", "0.5", "-1",
                                  "-1.0", "1e400"])]),
         # numbers in text columns: an int as written, a float as numeric prints its repr
         ("parent_model", [_each(f, ["5", "1.50", "1E+2", "-0", "1180591620717411303424",
                                     "true", "false", '{"x":1}', "{}", "[]", "[1]", '""',
                                     "null", r'"p\u00e9re"', '"模型"', "1e20", "1.5e-7",
                                     "-1.5e-7", "-0.0", "0.0", "1e400", "-1e400", "1e-400",
                                     "1e16", "1e15", "-1.5", "0.1", "123456789.123456789",
                                     "1.7976931348623157e308", "5e-324", "-12345678901234567890"])
                           for f in ("parentId", "model")]),
         ("surrogates", [_chat([
             ("s1", _m(U, '"content":%s' % sur)), ("s2", _m(U, '"content":"x%s\\u0041"'
                                                           % sur[1:-1])),
             ("s3", _m(U, '"content":%s' % (r'"\udc00\ud800"' if S else sur))),
             ("s4", _m(r'"role":"\ud83d\ude00"')), ("s5", _m('"role":%s' % sur)),
             ("s6", _m('"role":"us%ser"' % (r"\udc00" if S else "e"))),
             ("s7", _m(U, '"parentId":%s' % sur)), ("s8", _m(U, '"model":%s' % sur)),
             (sur[1:-1], GOOD), ("k" + sur[1:-1], GOOD), ("s9", GOOD),
             ("s10", _m(U, '"usage":{%s:%s}' % (sur, sur), '"files":[%s]' % sur))])]
          + ([json.dumps(_chat([("q1", _m(U, '"content":"\ud800"')), ("\udc00", GOOD),
                                ("q2", GOOD)]))] if S else [])),  # raw surrogates inside
         ("nul", [_chat([("n1", _m(U, '"content":%s' % nul)), ("n2", _m('"role":%s' % nul)),
                         ("n3", _m(U, '"parentId":%s' % nul)), ("n4", _m(U, '"model":%s' % nul)),
                         (nul[1:-1], GOOD), ("n5", GOOD),
                         ("n6", _m(U, '"files":[%s]' % nul, '"error":{%s:1}' % nul))])]),
         ("numbers", [_chat([("x1", _m(
             U, '"usage":{"prompt_tokens":123456789012345678901234567890,"x":1.5e300,'
                '"y":-0.0,"z":1E+2,"w":1e-400,"v":0.1000000000000000055511151231257827,'
                '"u":-123456789012345678901234567890.123456789e-5,"t":1e400,"s":0}',
             '"content":1.5e300', '"error":1E+2', '"output":-0.0',
             '"embeds":[0.1000000000000000055511151231257827,1e-400,-0,2e-2]',
             '"statusHistory":123456789012345678901234567890')), ("x2", GOOD)])]),
         ("deep", [_chat([("deep1", _m(U, '"content":' + '{"a":[' * 1500 + '1' + ']}' * 1500)),
                          ("deep2", _m(U, '"usage":' + '[' * 3000 + ']' * 3000)),
                          ("deep3", GOOD)], pre='"params":%s,' % ('[' * 3000 + ']' * 3000))]),
         ("unicode", [_chat([("u1", _m(U, '"content":"raw 😀 日本語 café ✨"')),
                             ("u2", _m(U, r'"content":"esc \u00e9 \ud83d\ude00 \u65e5"')),
                             ("u3", _m(r'"role":"r\u00f4le"', r'"model":"模型 \u00e9"')),
                             (r"caf\u00e9", GOOD), ("ключ", GOOD),
                             ("u4", _m(U, r'"parentId":"p\u00e9re 日本"'))])]),
         ("whitespace", ['\r\n {\n\t"history" :\t{\r\n  "messages" : {\n\t\t"w1" : { "role" '
                         ': "user" ,\n "content" : "ws\\n\\ttab" , "timestamp" : 1717000000 '
                         '}\n\t}\n } \n}\n\t ']),
         ("keys", [_chat([("", GOOD), (r'a\"b\\c', GOOD), ("k" * 1000, GOOD), ("-", GOOD),
                          (r"\/slash", GOOD), (r"x\u0041", GOOD), (r"\b\f\n\r\t", GOOD)])]),
         ("json_columns", [_chat([
             ("j1", _m(U, '"content":null', '"output":"str"', '"files":5', '"sources":true',
                       '"embeds":{"a":[1,{"b":null}]}', '"statusHistory":[]', '"error":false',
                       '"usage":"text"')),
             ("j2", _m(U)), ("j3", _m(U, r'"content":"\b\f\/\\ \" \u001f"')),
             ("j4", _m('"role":"assistant"', '"content":{"z":1,"a":2,"m":[3,{"y":4,"b":5}]}',
                       '"done":null', '"error":{"content":"boom"}'))])]),
         ]
    return k


# ---------------------------------------------------------------- output
def copy_field(v):
    if v is None:
        return "\\N"
    v = v.replace("\\", "\\\\")
    if "\n" in v or "\r" in v or "\t" in v:
        v = v.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ddl", action="store_true", help="print the CREATE TABLE SQL and exit")
    ap.add_argument("--schema", default="public")
    ap.add_argument("--chat-type", choices=("json", "jsonb"), default="json")
    ap.add_argument("--chats", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--format", choices=("copy", "jsonl"), default="copy")
    ap.add_argument("--big-chats", type=int, default=0)
    ap.add_argument("--big-chat-mb", type=int, default=30)
    ap.add_argument("--no-awkward", action="store_true")
    ap.add_argument("--small-messages", action="store_true",
                    help="messages of about 600 bytes of chat JSON (short contents, no usage, "
                         "sources or other extras): the per-row cost shows")
    a = ap.parse_args()
    if a.ddl:
        sys.stdout.write(ddl(a.schema, a.chat_type))
        return
    n = a.chats
    g = Gen(a.seed, n, a.small_messages)
    arng = random.Random("awkward-%s" % a.seed)
    extra = {}  # slot -> [(id, user_id, chat text)], emitted after that slot
    if not a.no_awkward and n >= 50:
        kinds = awkward_kinds(a.chat_type == "jsonb")
        for _ in range(max(1, n // 1000)):
            for _name, docs in kinds:
                for d in docs:
                    extra.setdefault(arng.randrange(n), []).append(
                        (g.uuid(arng), arng.choice(g.users), d))
    big = {n * (i + 1) // (a.big_chats + 1): i for i in range(a.big_chats)}
    out, jsonl = sys.stdout.buffer, a.format == "jsonl"
    buf, size, rows, nbytes, shared = [], 0, 0, 0, None
    rng, aux = g.rng, g.rng_aux
    for i in range(n + 1):
        items = []  # (id, user_id, title, chat, created_at, updated_at, share_id, arch, pin)
        if shared is not None:  # this slot is the shared copy of the previous chat
            items.append(shared)
            shared = None
        elif i < n:
            r = aux.random()
            cid, user = g.uuid(), rng.choice(g.users)
            doc, created, title, upd = g.chat_doc()
            share_id = None
            if r < 0.0005:
                user = None
            elif r < 0.001:
                doc = None
            elif r > 0.97 and i + 1 < n:
                share_id = g.uuid(aux)
                shared = (share_id, "shared-" + cid, title, doc, upd, upd, None, False, None)
            items.append((cid, user, title, doc, created, upd, share_id, aux.random() < 0.05,
                          (None, False, True)[aux.randrange(3)]))
        for cid, user, d in extra.get(i, ()):
            items.append((cid, user, "awkward", d, 1717000000, 1717000000, None, False, None))
        if i in big:
            doc, created, title, upd = g.chat_doc(big_mb=a.big_chat_mb)
            items.append((g.uuid(), rng.choice(g.users), title, doc, created, upd, None,
                           False, False))
        for cid, user, title, doc, created, upd, share, archived, pinned in items:
            if jsonl:
                line = json.dumps({"id": cid, "user_id": user, "chat": doc}) + "\n"
            else:
                line = "\t".join((
                    cid, copy_field(user), copy_field(title), copy_field(doc), str(created),
                    str(upd), copy_field(share), "t" if archived else "f",
                    "\\N" if pinned is None else ("t" if pinned else "f"),
                    '{"tags":["archived"]}' if archived else "{}", "\\N")) + "\n"
            buf.append(line)
            size += len(line)
            rows += 1
        if size > 4 << 20 or i == n:
            data = "".join(buf).encode("utf-8")
            nbytes += len(data)
            out.write(data)
            buf, size = [], 0
    out.flush()
    sys.stderr.write("gen_openwebui: %d rows (%d slots, %d awkward, %d big), %.1f MB\n" % (
        rows, n, sum(len(v) for v in extra.values()), a.big_chats, nbytes / 1048576))


if __name__ == "__main__":
    main()
