#!/usr/bin/env python3
"""current_message_migrate_test.py - `sluice migrate --revision 9a1b2c3d4e5f` (the second job,
chat.current_message_id) end to end against a real PostgreSQL, compared with
tests/lib/current_message_oracle.py (independent of the C++).

    python3 tests/e2e/current_message_migrate_test.py [--db URL] [--sluice build/sluice]
        [--chats 800] [--seed 23]

Databases at 856c5b02fb54 made by scripts/gen_current_message.py --ddl and --chats, with the
parity test's hand-written hard cases added:
  lanes 1 (no column yet) and lanes 3 (the column present, some values set), with
      --stamp-alembic: every chat's value is one the oracle accepts, rejected chats are unchanged
      and exactly the oracle's rejects are in sluice_current_message_reject, --summary-json
      counts them, alembic_version is 9a1b2c3d4e5f; a rerun says "already migrated", exit 0.
  killed (SIGKILL) at 3 random moments with 1 and 3 lanes, then run to its end: the same.
  refusals, nothing written, exit 4 with what to run in the line: at 8452d01d26d7, at
      374d2f66af06, no chat_message, chat_message without parent_id; `check` says the same;
      --phases naming indexes is a usage error (exit 2).
Exits 1 on any difference, 2 when it cannot run.
"""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LIB = os.path.join(os.path.dirname(HERE), "lib")
sys.path.insert(0, LIB)
sys.dont_write_bytecode = True
from helpers import (Database, Setup, add_hard_cases, load_current_message_corpus, oracle, psql,  # noqa: E402
                     psql_records, rejects, values, wrong_values)

BEFORE, AFTER = "856c5b02fb54", "9a1b2c3d4e5f"
# Small batches and commits: a run of 800 chats commits often, so that a kill lands between commits.
SMALL = ["--batch-rows", "16", "--fetch-rows", "16", "--commit-interval", "20ms,32KB"]


def command(args, db, verb, *extra):
    return [args.sluice, verb, "--revision", AFTER, "--db", db.conninfo, "--progress", "none"] + list(extra)


def sluice(args, db, verb, *extra):
    p = subprocess.run(command(args, db, verb, *extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return p.returncode, p.stdout.decode(errors="replace")


def migrate_args(work, lanes):
    return ["--stamp-alembic", "--lanes", str(lanes), "--reject-file", os.path.join(work, "rejects.jsonl"),
            "--summary-json", os.path.join(work, "summary.json")] + SMALL


class Clone(Database):
    """A database of its own, a copy of `template` (made once: generating and the oracle take seconds)."""

    def __init__(self, server, name, template):
        super().__init__(server, name)
        self.template = template

    def __enter__(self):
        psql(self.server, "-c", 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % self.name)
        psql(self.server, "-c", 'CREATE DATABASE "%s" TEMPLATE "%s"' % (self.name, self.template.name))
        return self


class Template:
    """A database at 856c5b02fb54 (the column present or not), the oracle's lines for it and its
    values before the job."""

    def __init__(self, args, name, seed, column):
        self.db = Database(args.db, name).__enter__()
        self.name = name
        load_current_message_corpus(self.db, argparse.Namespace(chats=args.chats, seed=seed), "json", column, os.devnull)
        add_hard_cases(self.db, column)
        self.want = oracle(self.db)
        self.before = values(self.db) if column else {cid: None for cid in self.want}


def check_result(db, want, before, problems):
    """The database after a finished run, against the oracle."""
    got = values(db)
    problems += wrong_values(want, got, want)
    want_rejects = sorted(cid for cid, o in want.items() if "reject" in o)
    problems += ["%s: rejected, yet changed from %r to %r" % (cid, before[cid], got[cid])
                 for cid in want_rejects if got[cid] != before[cid]]
    problems += ["%s: its value %r was cleared" % (cid, before[cid])
                 for cid in want if before[cid] is not None and got[cid] is None]
    if rejects(db) != want_rejects:
        problems.append("rejects table: %d chats, oracle %d" % (len(rejects(db)), len(want_rejects)))
    revision = psql_records(db.conninfo, "SELECT version_num FROM alembic_version")
    if revision != [AFTER]:
        problems.append("alembic_version %s, not %s" % (revision, AFTER))
    return got, want_rejects


def check_rerun(args, db, problems):
    rc, out = sluice(args, db, "migrate", "--stamp-alembic")
    if rc != 0 or "already migrated" not in out or "nothing to do" not in out:
        problems.append("rerun: exit %d: %s" % (rc, out.strip()[-300:]))


def clean_run(args, db, work, lanes, want, before):
    problems = []
    rc, out = sluice(args, db, "check", "--lanes", str(lanes))
    connections = [l for l in out.splitlines() if "connections" in l]
    if not connections or "index connection" in out:  # the job has no indexes phase to count
        problems.append("check's connections line should count lanes only: %s" % out.strip()[-600:])
    started = time.monotonic()
    rc, out = sluice(args, db, "migrate", *migrate_args(work, lanes))
    seconds = time.monotonic() - started
    if rc != 0:
        return len(want), problems + ["migrate: exit %d: %s" % (rc, out.strip()[-600:])], seconds
    got, want_rejects = check_result(db, want, before, problems)
    with open(os.path.join(work, "summary.json"), encoding="utf-8") as f:
        summary = json.load(f).get("current_message") or {}
    changed = sum(1 for cid in want if got[cid] != before[cid])
    figures = (summary.get("chats"), summary.get("updated"), summary.get("rejected"))
    if figures != (len(want), changed, len(want_rejects)):
        problems.append("--summary-json current_message (chats, updated, rejected) %s, expected %s"
                        % (figures, (len(want), changed, len(want_rejects))))
    check_rerun(args, db, problems)
    return len(want), problems, seconds


class Watch:
    """One psql session asking how many chats the job's checkpoint counts as committed: a psql
    process per question would take longer than the run between two commits."""

    # Before the schema phase the table is missing: then an error, no number, and the marker alone.
    QUERY = "SELECT coalesce(sum(chats), 0) FROM sluice_current_message_checkpoint;\n\\echo END\n"

    def __init__(self, db):
        self.p = subprocess.Popen(["psql", "-X", "-A", "-t", "-q", "-d", db.conninfo], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def committed(self):
        self.p.stdin.write(self.QUERY)
        self.p.stdin.flush()
        n = 0
        while (line := self.p.stdout.readline()) != "END\n":
            if not line:
                raise Setup("the psql session watching the checkpoint ended")
            n = int(line) if line.strip() else n
        return n

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def kill_at(args, db, work, lanes, target, seconds, watch):
    """Runs migrate and kills it (SIGKILL) once the checkpoint counts `target` chats, or after
    `seconds`, whichever comes first. Returns the chats committed then, or None when it had ended."""
    log = os.path.join(work, "killed.log")
    with open(log, "wb") as out:
        p = subprocess.Popen(command(args, db, "migrate", *migrate_args(work, lanes)), stdout=out,
                             stderr=subprocess.STDOUT)
        deadline = time.monotonic() + seconds
        while p.poll() is None and time.monotonic() < deadline and watch.committed() < target:
            time.sleep(0.005)
        ended = p.poll() is not None
        p.send_signal(signal.SIGKILL)
        p.wait()
    if ended and p.returncode != 0:
        with open(log, encoding="utf-8", errors="replace") as f:
            raise AssertionError("a run to be killed ended first, exit %d: %s" % (p.returncode, f.read()[-600:]))
    return None if ended else watch.committed()


def killed_run(args, db, work, lanes, want, before, seconds, rng):
    """Killed three times, each at a random point of the chats left to commit (a random moment of
    the backfill, which is nearly all of the run); then run to its end."""
    problems, landed = [], []
    watch = Watch(db)
    try:
        for _ in range(3):
            done = watch.committed()
            target = done + rng.uniform(0.05, 0.95) * (len(want) - done)
            at = kill_at(args, db, work, lanes, target, 2 * seconds, watch)
            if at is not None:
                landed.append(at)
    except AssertionError as e:
        problems.append(str(e))
    finally:
        watch.close()
    if not any(0 < at < len(want) for at in landed):
        problems.append("no kill landed between two commits (chats committed at each kill: %s)" % landed)
    rc, out = sluice(args, db, "migrate", *migrate_args(work, lanes))
    if rc != 0:
        return len(want), problems + ["the run after the kills: exit %d: %s" % (rc, out.strip()[-600:])], landed
    check_result(db, want, before, problems)
    check_rerun(args, db, problems)
    return len(want), problems, landed


# (what, SQL after --ddl, what the line must say)
REFUSALS = [
    ("at 8452d01d26d7", "UPDATE alembic_version SET version_num = '8452d01d26d7'", "alembic upgrade " + BEFORE),
    ("at 374d2f66af06", "UPDATE alembic_version SET version_num = '374d2f66af06'", "sluice migrate --stamp-alembic"),
    ("chat_message without parent_id", "ALTER TABLE chat_message DROP COLUMN parent_id", "has no column parent_id"),
    ("no chat_message", "DROP TABLE chat_message", "sluice migrate --stamp-alembic"),
]


def refusals(args, server):
    """One database, each state in turn (a refused run writes nothing, which is checked each time)."""
    problems = []
    with Database(server, "sluice_cm_migrate_refused") as db:
        psql(db.conninfo, "-c", subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen_current_message.py"),
                                                "--ddl", "--no-current-column"], stdout=subprocess.PIPE,
                                               check=True).stdout.decode())
        for what, sql, says in REFUSALS:
            psql(db.conninfo, "-c", "UPDATE alembic_version SET version_num = '%s'; %s" % (BEFORE, sql))
            for verb in ("migrate", "check"):
                rc, out = sluice(args, db, verb, "--stamp-alembic")
                if rc != 4 or says not in out:
                    problems.append("%s, %s: exit %d, wanted 4 saying %r: %s" % (what, verb, rc, says, out[-400:]))
            written = psql_records(db.conninfo, "SELECT relname FROM pg_class WHERE relname LIKE 'sluice%'"
                                                " UNION ALL SELECT attname FROM pg_attribute WHERE attname ="
                                                " 'current_message_id' AND NOT attisdropped")
            if written:
                problems.append("%s: refused, yet written: %s" % (what, written))
        rc, out = sluice(args, db, "migrate", "--phases", "schema,backfill,indexes")
        if rc != 2 or "schema, backfill and publish" not in out:
            problems.append("--phases with indexes: exit %d: %s" % (rc, out.strip()))
    return len(REFUSALS), problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", default=os.environ.get("SLUICE_TEST_DB"),
                    help="the server to make databases on (default: $SLUICE_TEST_DB)")
    ap.add_argument("--sluice", default=os.path.join(ROOT, "build", "sluice"))
    ap.add_argument("--chats", type=int, default=800)
    ap.add_argument("--seed", type=int, default=23)
    args = ap.parse_args()
    if not args.db:
        print("current message migrate: SLUICE_TEST_DB is not set and no --db given")
        return 2
    rng = random.Random(args.seed)
    failed = False

    def report(name, n, problems, note=""):
        nonlocal failed
        print("%s: %d chats, %d problems%s" % (name, n, len(problems), note))
        for p in problems[:20]:
            print("  " + p)
        failed |= bool(problems)

    templates = []
    try:
        # One without the column (the schema phase adds it), one with it and some values set.
        templates = [Template(args, "sluice_cm_migrate_t%d" % column, args.seed + column, column)
                     for column in (False, True)]
        with tempfile.TemporaryDirectory() as work:
            for lanes, t in ((1, templates[0]), (3, templates[1])):
                with Clone(args.db, "sluice_cm_migrate", t) as db:
                    n, problems, seconds = clean_run(args, db, work, lanes, t.want, t.before)
                report("lanes %d" % lanes, n, problems, " (%.1fs)" % seconds)
                t = templates[lanes == 1]  # killed: the other template
                with Clone(args.db, "sluice_cm_migrate", t) as db:
                    n, problems, landed = killed_run(args, db, work, lanes, t.want, t.before, seconds, rng)
                report("lanes %d, killed 3 times" % lanes, n, problems,
                       " (chats committed at the kills that landed: %s)" % landed)
        n, problems = refusals(args, args.db)
        report("refusals", n, problems)
    except Setup as e:
        print("current message migrate: cannot run: %s" % e)
        return 2
    finally:
        for t in templates:
            t.db.__exit__(None, None, None)
    print("current message migrate: %s" % ("FAILED" if failed else "every value the oracle's"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
