#!/usr/bin/env python3
"""fault_resume_test.py - sluice stopped, killed and cut off, then run again, against a real PostgreSQL.

    python3 tests/e2e/fault_resume_test.py [--sluice build/sluice] [--kills 15] [--chats 1000] [--seed 21] [--cases a,b]
                                       [--lanes 1]

On the server SLUICE_TEST_DB names (scripts/lib/pg.sh starts one and also exports PG_DATA_DIR,
PGHOST, PGPORT, PGUSER), each case gets a database of its own, loaded with the same generated
corpus (awkward documents included), and must end with exactly the table and the reject file a
clean run gives (timestamps that fell back to a run's `now` aside: each run has its own now):
  - kill:      SIGKILL at --kills random moments spread over the whole run (fetch, parse, COPY,
               commit, index build, FK validation, publish), the reject file deleted after every
               other kill (it is only an export of the rejects table), then a run to the end;
  - signals:   SIGINT, then SIGTERM on the resumed run, while rows are being written: exit 130 / 143,
               "interrupted" and the summary, a consistent checkpoint; a rerun completes;
  - terminate: the writer's and the reader's backends terminated by pg_terminate_backend: sluice
               reconnects with backoff and completes in the same run;
  - restart:   the server restarted mid-run: sluice waits for it and completes;
  - gone:      a server never reached: one clear line at once; a server gone mid-run for good:
               --connect-retries attempts with backoff, then one clear line and exit 1;
  - diskfull:  chat_message on a 4 MB tmpfs tablespace (mounting needs root, as CI runs): COPY
               fails with 53100, one clear line, a consistent checkpoint; a rerun with room completes.
Small batches and frequent commits make a run of a few hundred chats last long enough to hit.
Prints one line per case and "fault tests: N passed, M failed"; exits 1 on any failure.
"""
import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.path.join(os.path.dirname(HERE), "lib")
sys.path.insert(0, LIB)
from helpers import GENERATOR, PHASES, ROOT, Case, compare, pg_ctl, query  # noqa: E402
def case_kill(args, corpus, tmp, reference, since, clean_seconds):
    case = Case(args, corpus, tmp)
    rng = random.Random(args.seed)
    total = len(reference[0].splitlines())
    landed = sent = 0
    phases_hit = {}
    while landed < args.kills and sent < 4 * args.kills:
        # Aim within what is left to do: a resumed run skips what was committed.
        left = 1.0 - min(1.0, case.committed_messages() / max(1, total))
        proc = case.start()
        time.sleep(rng.uniform(0.02, clean_seconds * left + 0.3))
        sent += 1
        running = proc.poll() is None
        proc.kill()
        out, _ = proc.communicate()
        if landed % 2:  # the reject file is only an export: losing it between runs loses no reject
            try:
                os.remove(case.rejects)
            except FileNotFoundError:
                pass
        if running:
            landed += 1
            done = [p for p in PHASES if "\n  %s " % p in out]  # phases print a line when they end
            during = PHASES[len(done)] if len(done) < len(PHASES) else "summary"
            phases_hit[during] = phases_hit.get(during, 0) + 1
        else:  # it finished first: start over, so the next kill has a whole run to land in
            query(case.db, "DROP TABLE IF EXISTS chat_message, sluice_chat_message, sluice_checkpoint, sluice_reject;"
                          " DROP VIEW IF EXISTS ix_chat_message_chat_id")
    final = case.run()
    problems = [] if final.returncode == 0 else ["final run exited %d: %s" % (final.returncode, final.stderr.strip())]
    if landed < args.kills:
        problems.append("only %d of %d kills landed while sluice was running" % (landed, sent))
    problems += compare(case, reference, since)
    return problems, "%d SIGKILLs landed mid-run (%d sent; during %s), then a run to the end" % (
        landed, sent, ", ".join("%s %d" % kv for kv in sorted(phases_hit.items())))


def case_signals(args, corpus, tmp, reference, since, _):
    """SIGINT, then SIGTERM on the resumed run: each stops cleanly with exit 130 / 143 and a summary."""
    case = Case(args, corpus, tmp)
    problems, stops = [], []
    for sig in (signal.SIGINT, signal.SIGTERM):
        before = case.committed_messages()
        proc = case.start()
        case.wait_for(proc, lambda: case.committed_messages() > before)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
        name = signal.Signals(sig).name
        if proc.returncode != 128 + sig or "interrupted" not in out or "peak memory" not in out:
            problems.append("%s: exit %d, stdout %r" % (name, proc.returncode, out[-200:]))
        stored = int(query(case.db, "SELECT count(*) FROM %s" % case.target()).strip())
        if stored != case.committed_messages():
            problems.append("after %s the table holds %d rows, the checkpoint says %d" % (
                name, stored, case.committed_messages()))
        stops.append("%s at %d" % (name, stored))
    final = case.run()
    if final.returncode != 0:
        problems.append("rerun exited %d: %s" % (final.returncode, final.stderr.strip()))
    problems += compare(case, reference, since)
    return problems, "%s committed messages, exit 130 and 143, then a rerun" % ", ".join(stops)


def terminate(case, app):
    return query(case.db, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                         " WHERE application_name = '%s' OR application_name LIKE '%s %%'" % (app, app)).strip() != "0"


def case_terminate(args, corpus, tmp, reference, since, _):
    case = Case(args, corpus, tmp)
    proc = case.start()
    hit_writer = case.wait_for(proc, lambda: case.committed_messages() > 0 and terminate(case, "sluice writer"))
    hit_reader = case.wait_for(proc, lambda: terminate(case, "sluice reader"))
    out, err = proc.communicate(timeout=120)
    problems = []
    if not (hit_writer and hit_reader):
        problems.append("could not terminate the writer (%s) and the reader (%s) mid-run" % (hit_writer, hit_reader))
    if proc.returncode != 0 or "trying again" not in err:
        problems.append("exit %d, stderr %r" % (proc.returncode, err[-300:]))
    problems += compare(case, reference, since)
    return problems, "writer and reader backends terminated; completed in the same run"


def case_restart(args, corpus, tmp, reference, since, _):
    case = Case(args, corpus, tmp)
    proc = case.start()
    case.wait_for(proc, lambda: case.committed_messages() > 0)
    pg_ctl("restart")
    out, err = proc.communicate(timeout=120)
    problems = []
    if proc.returncode != 0 or "trying again" not in err:
        problems.append("exit %d, stderr %r" % (proc.returncode, err[-300:]))
    problems += compare(case, reference, since)
    return problems, "server restarted mid-run; completed in the same run"


def case_gone(args, corpus, tmp, reference, since, _):
    """The server goes away mid-run and stays away: retries, then one clear line and exit 1.
    A server never reached at all is a wrong address: said once, at once."""
    problems = []
    p = subprocess.run([args.sluice, "migrate", "--db", "postgresql://postgres@127.0.0.1:1/none", "--progress", "none"],
                       capture_output=True, text=True, timeout=60)
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    if p.returncode != 3 or len(lines) != 1 or "trying again" in p.stderr:  # 3: cannot connect
        problems.append("never-reached server: exit %d, stderr %r" % (p.returncode, p.stderr))
    case = Case(args, corpus, tmp)
    proc = case.start("--connect-retries", "2", "--retry-max-wait", "200ms")
    case.wait_for(proc, lambda: case.committed_messages() > 0)
    pg_ctl("stop")
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        pg_ctl("start")
    if proc.returncode != 3 or "giving up after 3 attempts" not in err or err.count("trying again") != 2:
        problems.append("server gone mid-run: exit %d, stderr %r" % (proc.returncode, err[-400:]))
    gave_up = [l for l in err.splitlines() if l.strip()][-1:]
    return problems, "never reached: one line; gone mid-run: 2 retries, then %r" % (gave_up[0][:100] if gave_up else "")


def case_diskfull(args, corpus, tmp, reference, since, _):
    """chat_message on a 4 MB filesystem: COPY fails with 53100, sluice stops with one line,
    the checkpoint matches the table; once there is room again, a rerun completes."""
    mount = tempfile.mkdtemp(prefix="sluice-tiny-")  # under /tmp, which the server can traverse
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", mount], check=True)
    case = Case(args, corpus, tmp)
    tablespace = "tiny_%d" % os.getpid()
    problems = []
    try:
        subprocess.run(["chown", "postgres", mount], check=os.geteuid() == 0)
        query(os.environ["SLUICE_TEST_DB"], "CREATE TABLESPACE %s LOCATION '%s'" % (tablespace, mount))
        first = case.run("--phases", "schema")
        query(case.db, "ALTER TABLE sluice_chat_message SET TABLESPACE %s" % tablespace)
        full = case.run()
        lines = [l for l in full.stderr.splitlines() if l.strip()]
        if full.returncode != 1 or len(lines) != 1 or "disk is full" not in full.stderr:
            problems.append("disk full: exit %d, stderr %r" % (full.returncode, full.stderr[-300:]))
        stored = int(query(case.db, "SELECT count(*) FROM sluice_chat_message").strip())
        if stored != case.committed_messages():
            problems.append("the table holds %d rows, the checkpoint says %d" % (stored, case.committed_messages()))
        query(case.db, "ALTER TABLE sluice_chat_message SET TABLESPACE pg_default")
        final = case.run()
        if first.returncode != 0 or final.returncode != 0:
            problems.append("runs with room exited %d and %d: %s" % (first.returncode, final.returncode,
                                                                       final.stderr.strip()))
        problems += compare(case, reference, since)
        said = lines[0][:110] if lines else ""
    finally:
        query(case.db, "ALTER TABLE IF EXISTS sluice_chat_message SET TABLESPACE pg_default", check=False)
        query(os.environ["SLUICE_TEST_DB"], "DROP DATABASE IF EXISTS %s" % case.name, check=False)
        query(os.environ["SLUICE_TEST_DB"], "DROP TABLESPACE IF EXISTS %s" % tablespace, check=False)
        subprocess.run(["umount", mount], check=False)
        os.rmdir(mount)
    return problems, "stopped at %d committed messages with %r; completed once there was room" % (stored, said)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sluice", default=os.path.join(ROOT, "build", "sluice"))
    ap.add_argument("--kills", type=int, default=15)
    ap.add_argument("--chats", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--cases", default="kill,signals,terminate,restart,gone,diskfull", help="comma-separated")
    ap.add_argument("--lanes", type=int, default=1, help="sluice's --lanes for every run")
    args = ap.parse_args()
    if "SLUICE_TEST_DB" not in os.environ or "PG_DATA_DIR" not in os.environ:
        print("fault tests: SLUICE_TEST_DB and PG_DATA_DIR must name the test server (scripts/lib/pg.sh)")
        return 2
    corpus = subprocess.run([sys.executable, GENERATOR, "--chats", str(args.chats), "--seed", str(args.seed)],
                            capture_output=True, check=True).stdout
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        since = int(time.time()) - 5  # rows whose timestamp fell back to `now` carry a time after this
        clean = Case(args, corpus, tmp)
        started = time.time()
        result = clean.run()
        clean_seconds = time.time() - started
        if result.returncode != 0:
            print("fault tests: the clean run failed: %s" % result.stderr.strip())
            return 1
        reference = clean.state(since)
        print("clean run: %d rows, %d rejects, %.1fs" % (len(reference[0].splitlines()), len(reference[1]), clean_seconds),
              flush=True)
        for name, case in [("kill", case_kill), ("signals", case_signals), ("terminate", case_terminate),
                           ("restart", case_restart), ("gone", case_gone), ("diskfull", case_diskfull)]:
            if name not in args.cases.split(","):
                continue
            try:
                problems, what = case(args, corpus, tmp, reference, since, clean_seconds)
            except Exception as e:  # a case that cannot even run has failed
                problems, what = ["%s: %s" % (type(e).__name__, e)], ""
            status = "ok" if not problems else "FAILED"
            print("%-10s %s  %s" % (name, status, what), flush=True)
            for p in problems:
                print("           " + p)
            passed += not problems
            failed += bool(problems)
    print("fault tests: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
