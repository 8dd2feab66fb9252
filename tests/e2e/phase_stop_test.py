#!/usr/bin/env python3
"""phase_stop_test.py - every phase of `sluice migrate` stopped, killed, cut off and limited the way
operators meet it, against a real PostgreSQL (a sibling of fault_resume_test.py; both use tests/lib/helpers.py's Case).

    python3 tests/e2e/phase_stop_test.py [--sluice build/sluice] [--chats 300] [--lanes 1] [--seed 21] [--cases a,b]

Each phase is held up by a lock that a test session takes on the table it needs (as a forgotten
psql session or a busy app would), so that a signal, a kill or a restart lands in it for sure:
  - stop:       SIGINT and SIGTERM in the initial count, the index build, the FK validation, the
                publish and the wait for another run's lock: exit 130 / 143 within a few seconds,
                "interrupted" and the summary, nothing half done; then a rerun completes. The
                constraints case waits long enough to see the lock wait reported, blocker named;
  - killindex:  SIGKILL while an index build waits, then an immediate rerun: the killed run's
                backend is still there; the rerun ends it, says so, and completes;
  - restart:    the server restarted during the index phase and during FK validation: the run
                reconnects and completes;
  - timeouts:   a database whose sessions get statement_timeout, lock_timeout,
                idle_in_transaction_session_timeout and idle_session_timeout of a few ms (as a
                managed PostgreSQL's role settings do): sluice's own sessions override them;
  - terminate6: six backends of sluice terminated one after another over one backfill: the retry
                budget counts consecutive failures, so the run completes, and its summary's "this
                run" counts every attempt;
  - invalidindex: ix_chat_message_user_id left INVALID by a failed CREATE INDEX CONCURRENTLY: publish
                with --stamp-alembic refuses, naming it, and stamps nothing; a full run drops it,
                builds it again (VALID, upstream's definition) and stamps;
  - secondsignal: SIGINT twice, then SIGTERM twice, while the first signal's orderly stop is held up
                (the reject export waits for a lock on sluice_reject): exit 130 / 143 within a second
                of the second signal, no summary; then a rerun completes;
  - roletimeouts: the timeouts case's settings on a role (ALTER ROLE ... SET) that is no superuser
                but owns the database, its schema and Open WebUI's tables; the whole migrate with
                --stamp-alembic runs as that role;
  - takeover:   with 1 and with 3 lanes, a slow migrate's lock session terminated (as a reaper or a DBA
                would) until a second migrate, waiting with --wait-for-lock, takes the lock: the first
                stops with exit 75 and one line, the second completes the table exactly (no id
                twice), and a plain rerun finds the work done;
  - cleanup:    SIGINT to `sluice cleanup` while its DROP of sluice_reject waits behind a reader, after
                a complete backfill: exit 130; a migrate --stamp-alembic then ends correct with exit
                0, or refused with nothing published and alembic_version unchanged.
Prints one line per case and "phase stop tests: N passed, M failed"; exits 1 on any failure.
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.path.join(os.path.dirname(HERE), "lib")
sys.path.insert(0, LIB)
from helpers import GENERATOR, ROOT, Case, compare, pg_ctl, query  # noqa: E402

STOP_WITHIN = 3.0  # seconds from the signal to the exit; sluice aims at one, CI machines are slow


class Blocker:
    """A psql session that holds a lock until released (or until the server goes)."""

    def __init__(self, db, sql):
        self.proc = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db], stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
        self.proc.stdin.write("SET application_name = 'test blocker';\nBEGIN;\n%s;\n" % sql)
        self.proc.stdin.flush()
        deadline = time.time() + 30
        while query(db, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'test blocker'"
                       " AND state = 'idle in transaction'").strip() != "1":
            if time.time() > deadline:
                raise RuntimeError("the blocker never took its lock: %s" % sql)
            time.sleep(0.02)

    def release(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("ROLLBACK;\n\\q\n")
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        self.proc.wait(timeout=30)


def sluice_waits(case, timeout=30):
    """Whether some session of sluice waits for a lock (within `timeout` seconds)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if query(case.db, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'sluice %'"
                         " AND wait_event_type = 'Lock'").strip() != "0":
            return True
        time.sleep(0.02)
    return False


def run_phases(case, phases):
    done = case.run("--phases", phases)
    if done.returncode != 0:
        raise RuntimeError("--phases %s failed: %s" % (phases, done.stderr.strip()))


def run_flagged(case, flags, *extra, db=None):
    """A run with flags that take no value on the command line (Case.command pairs its options),
    optionally as another role's connection string."""
    command = case.command(*extra) + list(flags)
    if db:
        command[command.index("--db") + 1] = db
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def alembic_revision(case):
    return query(case.db, "SELECT string_agg(version_num, ',') FROM alembic_version").strip()


# Each stop case: the phases run beforehand, the lock that holds up the next one, the phases of
# the run that is stopped, and a predicate for "it is held up" (None: a sluice session waits).
STOP_CASES = {
    "count": ("schema", "LOCK TABLE chat IN ACCESS EXCLUSIVE MODE", "backfill", None),
    "indexes": ("schema,backfill", "LOCK TABLE sluice_chat_message IN ACCESS EXCLUSIVE MODE", "indexes", None),
    "constraints": ("schema,backfill,indexes", "LOCK TABLE chat IN ACCESS EXCLUSIVE MODE", "constraints", None),
    "publish": ("schema,backfill,indexes,constraints", "LOCK TABLE sluice_chat_message IN ACCESS SHARE MODE",
                "publish", None),
    "lock wait": ("", "SELECT pg_advisory_lock(hashtextextended('sluice migrate public', 0))",
                  "schema,backfill,indexes,constraints,publish", "waiting for another sluice migrate"),
}


def stop_one(args, corpus, tmp, reference, since, name, sig):
    case = Case(args, corpus, tmp)
    before, lock, phases, held_up_says = STOP_CASES[name]
    if before:
        run_phases(case, before)
    blocker = Blocker(case.db, lock)
    problems = []
    try:
        extra = ("--wait-for-lock", "1min") if held_up_says else ()
        proc = subprocess.Popen(case.command("--phases", phases, *extra), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        if held_up_says:
            time.sleep(1.5)  # it polls the lock; its first line says whom it waits for
        elif not sluice_waits(case):
            problems.append("%s: sluice never waited for the blocker's lock" % name)
        if name == "constraints":
            time.sleep(6.5)  # long enough for the lock wait to be reported
        sent = time.time()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
        took = time.time() - sent
    finally:
        blocker.release()
    want = 128 + sig
    sig_name = signal.Signals(sig).name
    if proc.returncode != want or took > STOP_WITHIN:
        problems.append("%s, %s: exit %d (want %d) after %.1fs: %s" % (name, sig_name, proc.returncode, want, took,
                                                                      err.strip()[-300:]))
    if "interrupted" not in out or "peak memory" not in out:
        problems.append("%s, %s: no 'interrupted' summary: %r" % (name, sig_name, out[-300:]))
    if held_up_says and held_up_says not in out:
        problems.append("%s: the wait was not shown: %r" % (name, out[-300:]))
    if name == "constraints" and ("has waited" not in err or "test blocker" not in err):
        problems.append("the lock wait was not reported, blocker named: %r" % err[-400:])
    if query(case.db, "SELECT to_regclass('chat_message') IS NOT NULL").strip() == "t":
        problems.append("%s, %s: chat_message was published by a stopped run" % (name, sig_name))
    final = case.run()
    if final.returncode != 0:
        problems.append("%s: the rerun exited %d: %s" % (name, final.returncode, final.stderr.strip()[-300:]))
    problems += ["%s: %s" % (name, p) for p in compare(case, reference, since)]
    return problems, "%s %s %.1fs" % (name, sig_name.replace("SIG", ""), took)


def case_stop(args, corpus, tmp, reference, since):
    problems, stops = [], []
    for i, name in enumerate(STOP_CASES):
        for sig in (signal.SIGINT, signal.SIGTERM):
            p, what = stop_one(args, corpus, tmp, reference, since, name, sig)
            problems += p
            stops.append(what)
    return problems, "stopped in: " + ", ".join(stops)


def case_killindex(args, corpus, tmp, reference, since):
    case = Case(args, corpus, tmp)
    run_phases(case, "schema,backfill")
    blocker = Blocker(case.db, "LOCK TABLE sluice_chat_message IN ACCESS EXCLUSIVE MODE")
    problems = []
    try:
        proc = case.start("--phases", "indexes")
        if not sluice_waits(case):
            problems.append("the index build never waited")
        proc.kill()
        proc.communicate()
        orphans = query(case.db, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'sluice index%'")
        rerun = case.start()
        time.sleep(1.0)
    finally:
        blocker.release()
    out, err = rerun.communicate(timeout=120)
    if orphans.strip() == "0":
        problems.append("the killed run left no backend behind: the case proves nothing")
    if rerun.returncode != 0:
        problems.append("the immediate rerun exited %d: %s" % (rerun.returncode, err.strip()[-300:]))
    if "earlier run's backend pid" not in out:
        problems.append("the rerun did not say which earlier backend it ended: %r" % out[-300:])
    problems += compare(case, reference, since)
    return problems, "%s backend(s) left by the killed run, ended by the rerun, which completed" % orphans.strip()


def case_restart(args, corpus, tmp, reference, since):
    problems, said = [], []
    for name in ("indexes", "constraints"):
        case = Case(args, corpus, tmp)
        before, lock, phases, _ = STOP_CASES[name]
        run_phases(case, before)
        blocker = Blocker(case.db, lock)
        proc = case.start()
        waited = sluice_waits(case)
        pg_ctl("restart")  # the blocker's session goes with it
        blocker.release()
        out, err = proc.communicate(timeout=120)
        if not waited:
            problems.append("%s: sluice never waited in the phase" % name)
        if proc.returncode != 0 or "trying again" not in err:
            problems.append("%s: exit %d, stderr %r" % (name, proc.returncode, err[-300:]))
        problems += ["%s: %s" % (name, p) for p in compare(case, reference, since)]
        said.append(name)
    return problems, "server restarted during %s; each run completed" % " and ".join(said)


def case_timeouts(args, corpus, tmp, reference, since):
    case = Case(args, corpus, tmp)
    query(case.db, "ALTER DATABASE %s SET statement_timeout = '5ms'" % case.name)
    query(case.db, "ALTER DATABASE %s SET lock_timeout = '5ms'" % case.name)
    query(case.db, "ALTER DATABASE %s SET idle_in_transaction_session_timeout = '20ms'" % case.name)
    query(case.db, "ALTER DATABASE %s SET idle_session_timeout = '50ms'" % case.name)
    proc = case.start("--commit-interval", "200ms")
    out, err = proc.communicate(timeout=300)
    query(case.db, "ALTER DATABASE %s RESET ALL" % case.name)
    problems = []
    if proc.returncode != 0:
        problems.append("exit %d under the database's timeouts: %s" % (proc.returncode, err.strip()[-400:]))
    problems += compare(case, reference, since)
    return problems, "statement_timeout 5ms, lock_timeout 5ms, idle timeouts 20/50ms: completed"


def case_invalidindex(args, corpus, tmp, reference, since):
    """An INVALID index under one of the seven names, as a failed CREATE INDEX CONCURRENTLY leaves it,
    is not built: publish refuses over it without stamping; a full run builds it again, then stamps."""
    case = Case(args, corpus, tmp)
    run_phases(case, "schema,backfill,indexes,constraints")
    query(case.db, "DROP INDEX ix_chat_message_user_id")
    # UNIQUE over user_id, which repeats: the concurrent build fails and leaves its index INVALID.
    query(case.db, "CREATE UNIQUE INDEX CONCURRENTLY ix_chat_message_user_id ON sluice_chat_message (user_id)",
         check=False)
    definition = ("SELECT i.indisvalid, pg_get_indexdef(i.indexrelid) FROM pg_index i"
                  " WHERE i.indexrelid = to_regclass('ix_chat_message_user_id')")
    if not query(case.db, definition).startswith("f|"):
        return ["the failed concurrent build left no INVALID index: the case proves nothing"], ""
    problems = []
    refused = run_flagged(case, ["--stamp-alembic"], "--phases", "publish")
    if refused.returncode != 1 or "ix_chat_message_user_id is INVALID" not in refused.stderr:
        problems.append("publish over the INVALID index: exit %d, stderr %r" % (refused.returncode,
                                                                                 refused.stderr.strip()[-300:]))
    if alembic_revision(case) != "374d2f66af06":
        problems.append("the refused publish stamped alembic_version: %s" % alembic_revision(case))
    if query(case.db, "SELECT to_regclass('chat_message') IS NOT NULL").strip() == "t":
        problems.append("chat_message was published over the INVALID index")
    final = run_flagged(case, ["--stamp-alembic"])
    if final.returncode != 0:
        problems.append("the full run exited %d: %s" % (final.returncode, final.stderr.strip()[-300:]))
    rebuilt = query(case.db, definition).strip()
    if rebuilt != "t|CREATE INDEX ix_chat_message_user_id ON public.chat_message USING btree (user_id)":
        problems.append("after the full run the index is %r, not upstream's and VALID" % rebuilt)
    if alembic_revision(case) != "8452d01d26d7":
        problems.append("after the full run alembic_version holds %s" % alembic_revision(case))
    problems += compare(case, reference, since)
    return problems, ("publish refused over the INVALID ix_chat_message_user_id, stamp untouched; the full run"
                      " rebuilt it and stamped")


def case_secondsignal(args, corpus, tmp, reference, since):
    """A second signal ends the process at once, although the first one's orderly stop is held up:
    the reject export, which runs after a stop request on purpose and is not cancelled, waits for a
    lock a test session holds on sluice_reject."""
    case = Case(args, corpus, tmp)
    run_phases(case, "schema,backfill")
    problems, stops = [], []
    for sig in (signal.SIGINT, signal.SIGTERM):
        sig_name = signal.Signals(sig).name
        blocker = Blocker(case.db, "LOCK TABLE sluice_reject IN ACCESS EXCLUSIVE MODE")
        try:
            proc = case.start("--phases", "backfill")  # complete already: it counts the rejects, and waits
            if not sluice_waits(case):
                problems.append("%s: sluice never waited for the blocker's lock" % sig_name)
            proc.send_signal(sig)
            time.sleep(1.5)
            held_up = proc.poll() is None and query(case.db, "SELECT count(*) FROM pg_stat_activity WHERE"
                                                    " application_name = 'sluice rejects' AND wait_event_type = 'Lock'"
                                                    ).strip() == "1"
            sent = time.time()
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=60)
            took = time.time() - sent
        finally:
            blocker.release()
        if not held_up:
            problems.append("%s: the first signal's stop was not held up by the export: the case proves nothing"
                            " (exit %s)" % (sig_name, proc.returncode))
        if proc.returncode != 128 + sig or took > 1.0:
            problems.append("%s twice: exit %d (want %d) %.2fs after the second: %s" % (
                sig_name, proc.returncode, 128 + sig, took, err.strip()[-300:]))
        if "interrupted: the running statement was cancelled" not in out:
            problems.append("%s: the first signal did not stop the phase: %r" % (sig_name, out[-300:]))
        if "peak memory" in out:
            problems.append("%s twice: the summary was printed, so the orderly stop ended it: %r" % (
                sig_name, out[-300:]))
        stops.append("%s %.2fs" % (sig_name.replace("SIG", ""), took))
    final = case.run()
    if final.returncode != 0:
        problems.append("the rerun exited %d: %s" % (final.returncode, final.stderr.strip()[-300:]))
    problems += compare(case, reference, since)
    return problems, "a second signal while the first one's stop waited: exit after " + ", ".join(stops)


def case_roletimeouts(args, corpus, tmp, reference, since):
    """The timeouts of case_timeouts set on the role instead (ALTER ROLE ... SET, as managed servers
    configure their application roles), for a role that is no superuser but owns the database, its
    schema and Open WebUI's tables: the whole migrate, --stamp-alembic included, runs as that role."""
    case = Case(args, corpus, tmp)
    role = "sluice_limited_%d" % os.getpid()
    role_db = case.db.replace("//postgres@", "//%s@" % role, 1)
    query(case.db, "CREATE ROLE %s LOGIN" % role)
    try:
        for what in ("DATABASE %s" % case.name, "SCHEMA public", "TABLE chat", "TABLE alembic_version"):
            query(case.db, "ALTER %s OWNER TO %s" % (what, role))
        for setting, value in (("statement_timeout", "5ms"), ("lock_timeout", "5ms"),
                               ("idle_in_transaction_session_timeout", "20ms"), ("idle_session_timeout", "50ms")):
            query(case.db, "ALTER ROLE %s SET %s = '%s'" % (role, setting, value))
        # The settings bite on the role's sessions: a plain one cannot even sleep 50 ms.
        plain = subprocess.run(["psql", "-X", "-qAt", "-d", role_db, "-c", "SHOW statement_timeout",
                                "-c", "SELECT pg_sleep(0.05)"], capture_output=True, text=True)
        if not plain.stdout.startswith("5ms") or "statement timeout" not in plain.stderr:
            return ["the role's settings do not apply to its sessions: %r %r" % (plain.stdout, plain.stderr)], ""
        done = run_flagged(case, ["--stamp-alembic"], "--commit-interval", "200ms", db=role_db)
        if done.returncode != 0:
            return ["exit %d as a role with the timeouts: %s" % (done.returncode, done.stderr.strip()[-400:])], ""
        problems = []
        if alembic_revision(case) != "8452d01d26d7":
            problems.append("alembic_version holds %s after the run" % alembic_revision(case))
        problems += compare(case, reference, since)
    finally:
        query(case.db, "REASSIGN OWNED BY %s TO postgres; DROP OWNED BY %s" % (role, role))
        query(os.environ["SLUICE_TEST_DB"], "DROP ROLE %s" % role)
    return problems, ("as a role (no superuser) with statement_timeout 5ms, lock_timeout 5ms, idle timeouts"
                      " 20/50ms: completed, stamped")


def larger_corpus(args, tmp, since):
    """A corpus six times the size, for runs that must outlast what is done to them, with the state
    of a clean run of it; made once."""
    if not hasattr(larger_corpus, "made"):
        corpus = subprocess.run([sys.executable, GENERATOR, "--chats", str(6 * args.chats), "--seed", str(args.seed)],
                                capture_output=True, check=True).stdout
        clean = Case(args, corpus, tmp)
        if clean.run().returncode != 0:
            raise RuntimeError("the clean run of the larger corpus failed")
        larger_corpus.made = corpus, clean.state(since)
    return larger_corpus.made


def case_terminate6(args, corpus, tmp, reference, since):
    corpus, reference = larger_corpus(args, tmp, since)  # the backfill outlasts six reconnects
    case = Case(args, corpus, tmp)
    proc = case.start("--connect-retries", "3", "--retry-max-wait", "200ms")
    hits, after = 0, 0
    while hits < 6 and proc.poll() is None:
        # One query a turn: the writer is terminated once more messages are committed than at the
        # last termination, so the failures are spread over the backfill, never consecutive.
        out = query(case.db, "SELECT count(pg_terminate_backend(pid)), max(m) FROM pg_stat_activity,"
                            " (SELECT messages AS m FROM sluice_checkpoint) c WHERE application_name = 'sluice writer'"
                            " AND c.m > %d" % after, check=False).strip()
        terminated, _, messages = out.partition("|")
        if terminated.isdigit() and int(terminated) > 0:
            hits += 1
            after = int(messages) + 20
        time.sleep(0.01)
    out, err = proc.communicate(timeout=300)
    problems = []
    if hits < 6:
        problems.append("only %d writers terminated before the backfill ended" % hits)
    if proc.returncode != 0:
        problems.append("exit %d after %d terminations with --connect-retries 3: %s" % (
            proc.returncode, hits, err.strip()[-300:]))
    # "this run" covers the whole run, every attempt: from scratch, it is every chat read.
    read = re.search(r": (\d+) chats? read, ", out)
    this_run = re.search(r"this run: (\d+) chats? .*\n +\((\d+) attempts", out)
    if not read or not this_run or this_run.group(1) != read.group(1) or int(this_run.group(2)) < 2:
        problems.append("'this run' does not count every attempt: %r" % [l for l in out.splitlines()
                                                                          if "this run" in l or "chats read" in l])
    problems += compare(case, reference, since)
    return problems, "%d writer backends terminated over one backfill (--connect-retries 3); it completed" % hits


def lock_sessions(case):
    """The backend pids of the sessions named 'sluice lock', and the one that holds an advisory lock."""
    pids = set(query(case.db, "SELECT pid FROM pg_stat_activity WHERE application_name = 'sluice lock'"
                             " AND datname = current_database()").split())
    holder = query(case.db, "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                           " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())").strip()
    return pids, holder


def take_over(args, corpus, tmp, reference, since, lanes):
    case = Case(args, corpus, tmp)
    first = case.start("--lanes", lanes, "--batch-rows", "1", "--max-inflight-batches", "1")
    case.wait_for(first, lambda: case.committed_messages() > 100)
    # The second at speed: what it does once it holds the lock is an ordinary resume.
    fast = ("--lanes", lanes, "--batch-rows", "1000", "--fetch-rows", "1000", "--commit-interval", "1s")
    second = case.start(*fast, "--wait-for-lock", "1min")
    case.wait_for(first, lambda: len(lock_sessions(case)[0]) == 2)
    pids, holder = lock_sessions(case)
    waiting = pids - {holder}  # the second run's: it keeps its session while it waits
    terminated = 0
    while first.poll() is None and holder not in waiting and terminated < 100:
        if holder:
            query(case.db, "SELECT pg_terminate_backend(%s)" % holder)
            terminated += 1
        time.sleep(0.1)
        holder = lock_sessions(case)[1]
    took_over = holder in waiting
    out, err = first.communicate(timeout=60)
    out2, err2 = second.communicate(timeout=300)
    problems = []
    if not took_over:
        problems.append("the second run never took the lock (%d terminations): the case proves nothing" % terminated)
    # Besides a line for each time it took its lock again, one line saying why it stopped.
    lines = [l for l in err.splitlines() if l.strip() and "took the lock again" not in l]
    if first.returncode != 75 or len(lines) != 1 or "took over" not in lines[0]:
        problems.append("the run taken over: exit %d, stderr %r" % (first.returncode, err.strip()[-300:]))
    twice = query(case.db, "SELECT count(*) - count(DISTINCT id) FROM %s" % case.target(), check=False).strip()
    if twice != "0":
        problems.append("%s message ids twice in the table" % twice)
    if second.returncode != 0:
        problems.append("the run that took over: exit %d, stderr %r" % (second.returncode, err2.strip()[-300:]))
    else:
        problems += compare(case, reference, since)
    rerun = case.run(*fast)
    if rerun.returncode != 0 or "already migrated" not in rerun.stdout:
        problems.append("the plain rerun: exit %d, stderr %r" % (rerun.returncode, rerun.stderr.strip()[-300:]))
    return ["%s lanes: %s" % (lanes, p) for p in problems], "%s lanes: %d terminations" % (lanes, terminated)


def case_takeover(args, corpus, tmp, reference, since):
    corpus, reference = larger_corpus(args, tmp, since)  # one batch a chat lasts seconds: time to take over
    problems, said = [], []
    for lanes in ("1", "3"):
        p, what = take_over(args, corpus, tmp, reference, since, lanes)
        problems += p
        said.append(what)
    return problems, ("lock session terminated until the waiting run took it (%s): the first exited 75, the"
                      " second completed, a rerun found it done" % ", ".join(said))


def case_cleanup(args, corpus, tmp, reference, since):
    case = Case(args, corpus, tmp)
    run_phases(case, "schema,backfill")
    blocker = Blocker(case.db, "SELECT count(*) FROM sluice_reject")  # a reader, in its open transaction
    problems = []
    try:
        proc = subprocess.Popen([args.sluice, "cleanup", "--db", case.db, "--reject-file", case.rejects,
                                 "--discard-unfinished-build"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if not sluice_waits(case):
            problems.append("cleanup never waited for the reader's lock")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        blocker.release()
    if proc.returncode != 130:
        problems.append("cleanup after SIGINT: exit %d, stderr %r" % (proc.returncode, err.strip()[-300:]))
    final = run_flagged(case, ["--stamp-alembic"])
    published = query(case.db, "SELECT to_regclass('chat_message') IS NOT NULL").strip() == "t"
    if final.returncode == 0:
        problems += compare(case, reference, since)
        if alembic_revision(case) != "8452d01d26d7":
            problems.append("the run after the interrupted cleanup did not stamp")
        outcome = "the next migrate completed it"
    else:
        if published or alembic_revision(case) != "374d2f66af06":
            problems.append("a refused run published (%s) or stamped (%s)" % (published, alembic_revision(case)))
        outcome = "the next migrate refused: %s" % final.stderr.strip()[-120:]
    return problems, "cleanup interrupted while its DROP waited: exit %d; %s" % (proc.returncode, outcome)


CASES = [("stop", case_stop), ("killindex", case_killindex), ("restart", case_restart),
         ("timeouts", case_timeouts), ("terminate6", case_terminate6), ("invalidindex", case_invalidindex),
         ("secondsignal", case_secondsignal), ("roletimeouts", case_roletimeouts), ("takeover", case_takeover),
         ("cleanup", case_cleanup)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sluice", default=os.path.join(ROOT, "build", "sluice"))
    ap.add_argument("--chats", type=int, default=300)
    ap.add_argument("--lanes", type=int, default=1, help="sluice's --lanes for every run")
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--cases", default=",".join(name for name, _ in CASES), help="comma-separated")
    args = ap.parse_args()
    if "SLUICE_TEST_DB" not in os.environ or "PG_DATA_DIR" not in os.environ:
        print("phase stop tests: SLUICE_TEST_DB and PG_DATA_DIR must name the test server (scripts/lib/pg.sh)")
        return 2
    corpus = subprocess.run([sys.executable, GENERATOR, "--chats", str(args.chats), "--seed", str(args.seed)],
                            capture_output=True, check=True).stdout
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        since = int(time.time()) - 5
        clean = Case(args, corpus, tmp)
        result = clean.run()
        if result.returncode != 0:
            print("phase stop tests: the clean run failed: %s" % result.stderr.strip())
            return 1
        reference = clean.state(since)
        for name, case in CASES:
            if name not in args.cases.split(","):
                continue
            started = time.time()
            try:
                problems, what = case(args, corpus, tmp, reference, since)
            except Exception as e:  # a case that cannot even run has failed
                problems, what = ["%s: %s" % (type(e).__name__, e)], ""
            print("%-10s %s  %s (%.0fs)" % (name, "ok" if not problems else "FAILED", what, time.time() - started),
                  flush=True)
            for p in problems:
                print("           " + p)
            passed += not problems
            failed += bool(problems)
    print("phase stop tests: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
