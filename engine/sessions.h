// The process's live PostgreSQL sessions. A stop request (SIGINT, SIGTERM) cancels the statement
// each cancellable session runs, so an index build, a validation, a lock wait or a count ends
// within a second instead of when it is done; the lock watcher and the search for an earlier
// run's backends need to know which backends are this process's own.
// Thread-safe: connections come and go on several threads.
#pragma once

#include <libpq-fe.h>

#include <string>
#include <vector>

namespace sluice::engine::sessions {

// Called by Connection when it is established (with its backend's pid as pg_backend_pid() gives
// it: behind a pooler, PQbackendPID() is the pooler's own number) and when it closes.
void add(PGconn* conn, const std::string& label, int pid);
void remove(PGconn* conn);

// Whether a stop request cancels this session's statement (the default). The backfill's reader
// and writer opt out once the pipeline runs: they stop by themselves at a batch boundary and
// commit what they hold.
void set_cancellable(PGconn* conn, bool cancellable);

// Sends a cancel request (PQcancel) to every cancellable session; returns how many were sent.
unsigned cancel_all();

struct Session {
    int pid;
    std::string label;
};
// The backend pid and label of every live session of this process.
std::vector<Session> all();

// The backend pids of this process's sessions closed lately (the last few dozen): a closed
// session's backend lingers a moment in pg_stat_activity, and counts against connection limits,
// until it has exited.
std::vector<int> closed();

}  // namespace sluice::engine::sessions
