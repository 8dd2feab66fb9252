"""helpers.py - what sluice's Python tests share; the tests import it, never one another.

The paths; psql() and query() on a server; a database of a test's own; the test server's pg_ctl;
JSON compared by meaning (numbers as decimals, objects with Python's dict semantics); the fault
tests' Case, a database with the corpus loaded and sluice runs against it; the second job's
corpus and its hand-written hard cases.  Not a test itself.
"""
import decimal
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GENERATOR = os.path.join(ROOT, "scripts", "gen_openwebui.py")
CURRENT_MESSAGE_GENERATOR = os.path.join(ROOT, "scripts", "gen_current_message.py")


# ---------------------------------------------------------------- the server

class Setup(Exception):
    """The test cannot run (exit 2), as opposed to a mismatch (exit 1)."""


def with_dbname(conninfo, dbname):
    """The server's connection string (libpq URL or keyword string) naming another database."""
    if re.match(r"postgres(ql)?://", conninfo):
        u = urllib.parse.urlsplit(conninfo)
        return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + urllib.parse.quote(dbname), u.query,
                                        u.fragment))
    return conninfo + " dbname='%s'" % dbname  # the last dbname= wins


def psql(conninfo, *args, stdin=None, stdout=subprocess.PIPE, check=True):
    """psql -X -q with ON_ERROR_STOP on `conninfo`, given `args`: its standard output, as bytes.
    A failure raises Setup, unless check is False."""
    cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo] + list(args)
    p = subprocess.run(cmd, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE)
    if check and p.returncode:
        raise Setup("psql %s failed: %s" % (" ".join(args)[:120], p.stderr.decode(errors="replace").strip()))
    return p.stdout


def query(conninfo, sql, check=True):
    """The rows of `sql` as psql -At prints them (columns split by |, a row a line), as text."""
    return psql(conninfo, "-At", "-c", sql, check=check).decode()


def psql_records(conninfo, sql):
    """The first column of every row, as text; records are split at NUL bytes, which no text
    value holds (json values may hold raw line breaks)."""
    out = psql(conninfo, "-A", "-t", "-0", "-v", "FETCH_COUNT=2000", "-c", sql)
    return [r for r in out.decode("utf-8").split("\0") if r.strip()]


class Database:
    """A database of its own, dropped at the end whatever happens."""

    def __init__(self, server, name):
        self.server, self.name = server, name
        self.conninfo = with_dbname(server, name)

    def __enter__(self):
        psql(self.server, "-c", 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % self.name)
        psql(self.server, "-c", 'CREATE DATABASE "%s"' % self.name)
        return self

    def __exit__(self, *exc):
        try:
            psql(self.server, "-c", 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % self.name)
        except Setup as e:
            print("warning: %s" % e, file=sys.stderr)


def run(cmd, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    if p.returncode:
        raise Setup("%s failed: %s" % (os.path.basename(cmd[1]), p.stderr.decode(errors="replace")))
    return p


def load_current_message_corpus(db, args, chat_type, column, expect):
    """scripts/gen_current_message.py's DDL and chats into `db`; its --expect file to `expect`."""
    flags = ["--chat-type", chat_type] + ([] if column else ["--no-current-column"])
    psql(db.conninfo, "-c", run([sys.executable, CURRENT_MESSAGE_GENERATOR, "--ddl"] + flags).stdout.decode())
    data = run([sys.executable, CURRENT_MESSAGE_GENERATOR, "--chats", str(args.chats), "--seed", str(args.seed),
                "--expect", expect] + flags)
    with tempfile.TemporaryFile() as f:
        f.write(data.stdout)
        f.seek(0)
        psql(db.conninfo, stdin=f)


def pg_ctl(action):
    data = os.environ["PG_DATA_DIR"]
    binary = os.path.join(os.environ.get("PG_BINDIR", "/usr/lib/postgresql/15/bin"), "pg_ctl")
    # -l: a restarted server must not inherit (and hold open) a pipe of ours.
    cmd = [binary, "-D", data, "-l", os.path.join(os.path.dirname(data), "server.log"), "-w", "-m", "fast", action]
    if action == "stop":  # `start` must bring it back as it was: socket directory, port, settings
        with open(os.path.join(data, "postmaster.opts")) as f:
            words = shlex.split(f.read())[1:]
        i = words.index("-D")
        pg_ctl.options = shlex.join(words[:i] + words[i + 2:])
    if action == "start":
        cmd += ["-o", pg_ctl.options]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)


# ---------------------------------------------------------------- JSON by meaning

def _no_constant(name):
    raise ValueError("not JSON: %s" % name)


def make_loader(ordered):
    """JSON text -> comparable value: numbers as Decimal, objects as (ordered) key/value
    tuples after Python dict semantics (duplicate key: last value, first position)."""
    if ordered:
        def hook(pairs):
            return ("{}", tuple(dict(pairs).items()))
    else:
        def hook(pairs):
            return ("{}", dict(pairs))

    def load(text):
        return json.loads(text, parse_float=decimal.Decimal, parse_int=decimal.Decimal,
                          parse_constant=_no_constant, object_pairs_hook=hook)
    return load


def top_object(v):
    if not (isinstance(v, tuple) and v[0] == "{}"):
        raise ValueError("not a JSON object")
    return dict(v[1])


def short(v, n=160):
    s = repr(v)
    return s if len(s) <= n else s[:n] + "...(%d chars)" % len(s)


class Diff:
    def __init__(self, show=10):
        self.count = 0
        self.show = show
        self.details = []

    def add(self, text):
        self.count += 1
        if len(self.details) < self.show:
            self.details.append(text)


# ---------------------------------------------------------------- the fault tests' case

SLOW = ["--batch-rows", "2", "--fetch-rows", "8", "--commit-interval", "10ms", "--parse-threads", "2",
        "--progress", "none", "--connect-retries", "8", "--retry-max-wait", "1s"]
PHASES = ["schema", "backfill", "indexes", "constraints", "publish"]
FINGERPRINT = """
    SELECT id, md5(row(chat_id, user_id, role, parent_id, content, output, model_id, files, sources, embeds,
                       done, status_history, error, usage)::text),
           CASE WHEN created_at >= %d THEN 'now' ELSE created_at::text END
    FROM chat_message m ORDER BY id"""


class Case:
    """A database with the corpus loaded, and sluice runs against it."""
    counter = 0

    def __init__(self, args, corpus, tmp):
        Case.counter += 1
        self.args, self.tmp = args, tmp
        self.name = "sluice_fault_%d_%d" % (os.getpid(), Case.counter)
        base = os.environ["SLUICE_TEST_DB"]
        self.db = base.rsplit("/", 1)[0] + "/" + self.name
        query(base, "CREATE DATABASE %s" % self.name)
        ddl = subprocess.run([sys.executable, GENERATOR, "--ddl"], capture_output=True, text=True, check=True).stdout
        query(self.db, ddl)
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.db, "-c", "\\copy chat FROM STDIN"],
                       input=corpus, check=True)
        self.rejects = os.path.join(tmp, self.name + ".rejects.jsonl")

    def command(self, *extra):
        options = dict(zip(SLOW[::2], SLOW[1::2]))
        options["--lanes"] = str(self.args.lanes)
        options.update(zip(extra[::2], extra[1::2]))  # a case's own values replace the defaults
        return [self.args.sluice, "migrate", "--db", self.db, "--reject-file", self.rejects] + [
            x for kv in options.items() for x in kv]

    def start(self, *extra):
        return subprocess.Popen(self.command(*extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def run(self, *extra):
        return subprocess.run(self.command(*extra), capture_output=True, text=True, timeout=300)

    def state(self, since):
        """The table and the reject file, comparable across runs."""
        rows = query(self.db, FINGERPRINT % since)
        with open(self.rejects) as f:
            lines = f.read().splitlines()
        ids = sorted(json.loads(line)["id"] for line in lines)
        indexes = query(self.db, "SELECT count(*) FROM pg_indexes WHERE tablename = 'chat_message'").strip()
        fk = query(self.db, "SELECT count(*) FROM pg_constraint WHERE conname = 'chat_message_chat_id_fkey'"
                           " AND convalidated").strip()
        return rows, ids, indexes, fk

    def target(self):
        """chat_message, or before publish sluice's build table."""
        return query(self.db, "SELECT coalesce(to_regclass('chat_message'), to_regclass('sluice_chat_message'))").strip()

    def committed_messages(self):
        out = query(self.db, "SELECT sum(messages) FROM sluice_checkpoint", check=False).strip()
        return int(out) if out.isdigit() else 0

    def wait_for(self, proc, predicate, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline and proc.poll() is None:
            if predicate():
                return True
            time.sleep(0.02)
        return False


def compare(case, reference, since):
    """What differs between the case's state and the clean run's, as lines."""
    got = case.state(since)
    problems = []
    if got[0] != reference[0]:
        a, b = set(got[0].splitlines()), set(reference[0].splitlines())
        problems.append("table differs: %d rows missing, %d extra (e.g. %s)" % (
            len(b - a), len(a - b), sorted(b - a)[:1] or sorted(a - b)[:1]))
    if got[1] != reference[1]:
        problems.append("reject file differs: %d ids, clean run %d" % (len(got[1]), len(reference[1])))
    if got[2:] != reference[2:]:
        problems.append("indexes/FK differ: %s vs %s" % (got[2:], reference[2:]))
    return problems


# ---------------------------------------------------------------- the second job's hard cases

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


# ---- the first job's corpus; the second job's values, as the oracle and the database give them


def load_corpus(db, args, chat_type):
    ddl = subprocess.run([sys.executable, GENERATOR, "--ddl", "--chat-type", chat_type],
                         stdout=subprocess.PIPE, check=True).stdout
    psql(db.conninfo, stdin=_bytes_file(ddl))
    gen = subprocess.Popen([sys.executable, GENERATOR, "--chats", str(args.chats), "--seed", str(args.seed),
                            "--chat-type", chat_type], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    psql(db.conninfo, "-c", r"\copy chat FROM STDIN", stdin=gen.stdout)
    gen.stdout.close()
    if gen.wait():
        raise Setup("the generator failed (exit %d)" % gen.returncode)


def _bytes_file(data):
    f = tempfile.TemporaryFile()
    f.write(data)
    f.seek(0)
    return f


CURRENT_MESSAGE_ORACLE = os.path.join(HERE, "current_message_oracle.py")


def oracle(db):
    """{chat id: the oracle's line} for the database as it is now (before the job)."""
    out = run([sys.executable, CURRENT_MESSAGE_ORACLE, "--db", db.conninfo]).stdout.decode()
    return {o["id"]: o for o in map(json.loads, out.splitlines())}


def values(db):
    return dict(json.loads(r) for r in psql_records(
        db.conninfo, "SELECT json_build_array(id, current_message_id)::text FROM chat"))


def rejects(db):
    return sorted(psql_records(db.conninfo, "SELECT chat_id FROM sluice_current_message_reject"))


def wrong_values(expected, got, ids):
    """Chats among `ids` whose value is not one the oracle accepts."""
    return ["%s: %r, oracle %r" % (cid, got.get(cid), expected[cid]["after"])
            for cid in ids if got.get(cid, "absent") not in expected[cid]["after"]]


def expect(cond, what, problems):
    if not cond:
        problems.append(what)


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


def apply(args, db, *extra):
    p = subprocess.run([args.apply, db.conninfo] + list(extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, (p.stdout + p.stderr).decode(errors="replace").strip()


def applied(args, db, *extra):
    rc, out = apply(args, db, *extra)
    if rc:
        raise AssertionError("current_message_apply %s: exit %d: %s" % (" ".join(extra), rc, out))
    return out
