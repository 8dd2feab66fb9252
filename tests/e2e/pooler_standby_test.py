#!/usr/bin/env python3
"""pooler_standby_test.py - sluice behind a real PgBouncer and against a real hot standby.

    python3 tests/e2e/pooler_standby_test.py [--sluice build/sluice] [--cases a,b]

On the server SLUICE_TEST_DB names (scripts/lib/pg.sh starts one and exports PG_DATA_DIR), each
case gets a small Open WebUI database of its own:
  - transaction: PgBouncer in transaction mode (as Open WebUI's DATABASE_URL often points at:
                 Supavisor's port 6543, CloudNativePG's Pooler), LIFO and round robin, and in
                 statement mode: check fails its pooler line, migrate and cleanup refuse with one
                 line naming the pooler (exit 1, not 75 "another sluice migrate"), nothing is
                 written, no lock is left behind, and a direct run afterwards completes;
  - session:     PgBouncer in session mode: migrate completes, twice in a row (the pool's spare
                 server sessions are not taken for Open WebUI's), and check passes after it;
  - unlock:      PgBouncer in session mode resetting with RESET ALL instead of DISCARD ALL, which
                 keeps a server session's advisory locks for the next client: a migrate through
                 it releases its lock itself, so none stays behind in the pool, and a migrate
                 through it again is not refused;
  - standby:     a streaming standby of the test server (pg_basebackup -R): check fails its server
                 line and migrate refuses, both saying to point --db at the primary.
Prints one line per case and "pooler and standby tests: N passed, M failed"; exits 1 on any failure.
"""
import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.path.join(os.path.dirname(HERE), "lib")
sys.path.insert(0, LIB)
from helpers import GENERATOR, ROOT, query  # noqa: E402

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
POOLER_LINE = "pooler in transaction or statement mode"
LOCKS = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def as_postgres(argv):
    """Server programs refuse to run as root: as root they run as the postgres user."""
    return ["runuser", "-u", "postgres", "--"] + argv if os.getuid() == 0 else argv


def pg_bin(name):
    for d in sorted(os.listdir("/usr/lib/postgresql"), reverse=True):
        path = os.path.join("/usr/lib/postgresql", d, "bin", name)
        if os.path.exists(path):
            return path
    return name


def server():
    """host and port of SLUICE_TEST_DB (postgresql://user@host:port/db)."""
    hostport = os.environ["SLUICE_TEST_DB"].split("@", 1)[1].split("/", 1)[0]
    host, port = hostport.rsplit(":", 1)
    return host, int(port)


class Database:
    """A database of its own with Open WebUI's chat table and a few hundred chats."""
    counter = 0

    def __init__(self, corpus):
        Database.counter += 1
        self.name = "sluice_pool_%d_%d" % (os.getpid(), Database.counter)
        self.base = os.environ["SLUICE_TEST_DB"]
        query(self.base, "CREATE DATABASE %s" % self.name)
        self.direct = self.url(*server())
        ddl = subprocess.run([sys.executable, GENERATOR, "--ddl"], capture_output=True, text=True, check=True).stdout
        query(self.direct, ddl)
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.direct, "-c", "\\copy chat FROM STDIN"],
                       input=corpus, text=True, check=True)

    def url(self, host, port):
        return "postgresql://postgres@%s:%d/%s" % (host, port, self.name)

    def tables(self):
        return query(self.direct, "SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class"
                                 " WHERE relname LIKE 'sluice%' OR relname = 'chat_message'").strip()

    def drop(self):
        query(self.base, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.name, check=False)


class PgBouncer:
    """A PgBouncer of its own on a free port, in front of the test server."""

    def __init__(self, tmp, mode, extra=""):
        self.dir = tempfile.mkdtemp(prefix="bouncer-", dir=tmp)
        os.chmod(self.dir, 0o777)
        self.port = free_port()
        host, port = server()
        ini = os.path.join(self.dir, "pgbouncer.ini")
        users = os.path.join(self.dir, "users.txt")
        with open(users, "w") as f:
            f.write('"postgres" ""\n')
        with open(ini, "w") as f:
            f.write("[databases]\n* = host=%s port=%d\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = %d\n"
                    "unix_socket_dir =\nauth_type = trust\nauth_file = %s\npool_mode = %s\nlogfile = %s\n%s\n"
                    % (host, port, self.port, users, mode, os.path.join(self.dir, "pgbouncer.log"), extra))
        argv = [PGBOUNCER, ini] + (["-u", "postgres"] if os.getuid() == 0 else [])
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("pgbouncer did not start on port %d" % self.port)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@contextlib.contextmanager
def pooled_database(corpus, tmp, mode, extra=""):
    """A database of its own behind a PgBouncer of its own: (database, its URL through the pool)."""
    db = Database(corpus)
    try:
        bouncer = PgBouncer(tmp, mode, extra)
        try:
            yield db, db.url("127.0.0.1", bouncer.port)
        finally:
            bouncer.stop()
    finally:
        db.drop()


def sluice(args, *argv):
    return subprocess.run([args.sluice] + list(argv), capture_output=True, text=True, timeout=120)


def migrate(args, url, tmp, *extra):
    return sluice(args, "migrate", "--db", url, "--progress", "none",
                  "--reject-file", os.path.join(tmp, "rejects.jsonl"), *extra)


def said(run):
    return "exit %d\n--- stdout\n%s--- stderr\n%s" % (run.returncode, run.stdout, run.stderr)


def expect(problems, ok, what, run=None):
    if not ok:
        problems.append(what + (": " + said(run) if run is not None else ""))


def case_transaction(args, corpus, tmp):
    problems = []
    for mode, extra in (("transaction", ""), ("transaction", "server_round_robin = 1"), ("statement", "")):
        with pooled_database(corpus, tmp, mode, extra) as (db, pooled):
            label = mode + (" round robin" if extra else "")
            check = sluice(args, "check", "--db", pooled)
            expect(problems, check.returncode == 4 and "pooler        FAILED" in check.stdout
                   and POOLER_LINE in check.stdout, label + ": check did not fail its pooler line", check)
            for attempt in (1, 2):  # a first refusal must not leave anything that changes the second
                run = migrate(args, pooled, tmp)
                expect(problems, run.returncode == 4 and POOLER_LINE in run.stderr
                       and "another sluice migrate" not in run.stderr,
                       "%s: migrate %d did not refuse, naming the pooler" % (label, attempt), run)
            cleanup = sluice(args, "cleanup", "--db", pooled, "--reject-file", os.path.join(tmp, "r.jsonl"))
            expect(problems, cleanup.returncode == 4 and POOLER_LINE in cleanup.stderr,
                   label + ": cleanup did not refuse", cleanup)
            expect(problems, db.tables() == "", label + ": the refused runs wrote " + db.tables())
            expect(problems, query(db.direct, LOCKS).strip() == "0", label + ": a lock was left behind in the pool")
            direct = migrate(args, db.direct, tmp)
            expect(problems, direct.returncode == 0, label + ": the direct run afterwards failed", direct)
    return problems


def case_session(args, corpus, tmp):
    problems = []
    with pooled_database(corpus, tmp, "session") as (db, pooled):
        for attempt in (1, 2):
            run = migrate(args, pooled, tmp)
            expect(problems, run.returncode == 0, "session mode: migrate %d failed" % attempt, run)
        check = sluice(args, "check", "--db", pooled)
        expect(problems, check.returncode == 0, "session mode: check after the runs failed", check)
        verify = sluice(args, "verify", "--db", db.direct, "--progress", "none")
        expect(problems, verify.returncode == 0, "session mode: verify disagrees", verify)
    return problems


def case_unlock(args, corpus, tmp):
    problems = []
    with pooled_database(corpus, tmp, "session", "server_reset_query = RESET ALL") as (db, pooled):
        run = migrate(args, pooled, tmp, "--phases", "schema,backfill")
        expect(problems, run.returncode == 0, "the run through the pool failed", run)
        held = query(db.direct, LOCKS).strip()
        expect(problems, held == "0", "%s advisory lock(s) left behind in the pool's server sessions" % held)
        again = migrate(args, pooled, tmp)
        expect(problems, again.returncode == 0, "the next run through the pool was refused", again)
        direct = migrate(args, db.direct, tmp)
        expect(problems, direct.returncode == 0, "the direct run afterwards was refused", direct)
    return problems


def case_standby(args, corpus, tmp):
    problems = []
    db = Database(corpus)
    standby = tempfile.mkdtemp(prefix="standby-", dir=tmp)
    data = os.path.join(standby, "data")
    if os.getuid() == 0:
        shutil.chown(standby, "postgres")
    host, port = server()
    port2 = free_port()
    try:
        subprocess.run(as_postgres([pg_bin("pg_basebackup"), "-h", host, "-p", str(port), "-U", "postgres", "-D", data,
                                    "-R", "-X", "stream", "-c", "fast"]), check=True, capture_output=True)
        subprocess.run(as_postgres([pg_bin("pg_ctl"), "-D", data, "-l", os.path.join(standby, "server.log"), "-w",
                                    "-o", "-k %s -p %d -c listen_addresses=127.0.0.1" % (standby, port2), "start"]),
                       check=True, capture_output=True)
        url = db.url("127.0.0.1", port2)
        expect(problems, query(url, "SELECT pg_is_in_recovery()").strip() == "t", "the standby is not in recovery")
        check = sluice(args, "check", "--db", url)
        expect(problems, check.returncode == 4 and "server        FAILED" in check.stdout
               and "point --db at the primary" in check.stdout, "check did not fail its server line", check)
        run = migrate(args, url, tmp)
        expect(problems, run.returncode == 4 and "not starting, nothing was written: server:" in run.stderr
               and "point --db at the primary" in run.stderr and "read-only transaction" not in run.stderr,
               "migrate did not refuse, saying to point --db at the primary", run)
    finally:
        subprocess.run(as_postgres([pg_bin("pg_ctl"), "-D", data, "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(standby, ignore_errors=True)
        db.drop()
    return problems


CASES = {"transaction": case_transaction, "session": case_session, "unlock": case_unlock, "standby": case_standby}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sluice", default=os.path.join(ROOT, "build", "sluice"))
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args()
    corpus = subprocess.run([sys.executable, GENERATOR, "--chats", "150", "--seed", "4"], capture_output=True,
                            text=True, check=True).stdout
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o777)
        for name in args.cases.split(","):
            started = time.time()
            try:
                problems = CASES[name](args, corpus, tmp)
            except Exception as e:  # a case that cannot run fails, it does not skip
                problems = ["could not run: %s" % e]
            if problems:
                failed += 1
                print("FAIL %s (%.1fs)" % (name, time.time() - started))
                for p in problems:
                    print("  " + p)
            else:
                passed += 1
                print("ok   %s (%.1fs)" % (name, time.time() - started))
    print("pooler and standby tests: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
