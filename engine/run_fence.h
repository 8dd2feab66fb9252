// One writer at a time, fenced. The run's advisory lock (engine/run_lock.h) lives with one
// session; when that session is ended mid-run (an idle-connection reaper, pg_terminate_backend, a
// proxy), another run may take the lock while this one still writes. The fence makes that
// harmless: a token in a small table of the job's, one row per key, that each run replaces once it
// holds the lock and before it reads the job's state, and that every transaction writing that
// state checks just before it commits (hold(): the row, locked FOR SHARE while it holds this run's
// token). The replacing UPDATE waits for those row locks, so once a run has taken the fence no
// transaction of an earlier run can commit: its hold() finds the token gone and throws.
//
// A killed run holds the row only between its last hold() and its COMMIT, and its backend aborts
// that transaction as soon as the client is gone: it never blocks the next run.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>

#include "engine/pg.h"

namespace sluice::engine {

// This run may not write any more: another run has taken its fence (or its lock). what() says how,
// without saying what to do: the caller knows.
struct RunTakenOver : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The fence of one key in table <schema>.<table>. One per process at a time (the newest is
// current()). Thread-safe: every lane's writer calls hold() on its own connection, and the lock's
// keeper (engine/lock_keeper.h) may call lose() from its thread.
class RunFence {
public:
    RunFence(std::string schema, std::string table, std::string key);
    ~RunFence();
    RunFence(const RunFence&) = delete;
    RunFence& operator=(const RunFence&) = delete;

    // Under the run's lock, before the run reads the job's state: creates the table if needed and
    // puts a new token in place, in one transaction that waits for the transactions of an earlier
    // run still holding the old token. `creating`, when given, runs in that transaction just
    // before the table is created (the caller's SET LOCAL ROLE, so that the table is that role's).
    void take(Connection& conn, const std::function<void()>& creating = {});

    // Inside the caller's transaction, just before it commits: locks the token's row FOR SHARE
    // while the token is this run's; throws RunTakenOver when another run has replaced it (or
    // dropped its table), or after lose(). The caller's catch rolls the transaction back.
    void hold(Connection& conn) const;

    // Whether the table still holds this run's token (a plain read, no lock).
    bool ours(Connection& conn) const;

    // The run has been taken over (its keeper saw another run hold the lock): hold() and check()
    // throw RunTakenOver(why) from now on.
    void lose(const std::string& why);
    // Throws RunTakenOver after lose(); for loops that write between commits. No SQL.
    void check() const;
    bool lost() const { return lost_.load(); }

    const std::string& qualified_name() const { return table_; }

    static RunFence* current();

private:
    std::string table_, key_, token_;
    std::atomic<bool> lost_{false};
    mutable std::mutex mutex_;  // guards why_
    std::string why_;
    RunFence* previous_;
};

// With a current fence: its hold() (inside a transaction that writes the job's state, just before
// COMMIT) and its check(). Without one (commands that hold no fence, tests): nothing.
void hold_fence(Connection& conn);
void check_fence();

}  // namespace sluice::engine
