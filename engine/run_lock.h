// One run at a time: a PostgreSQL session-level advisory lock, held on a connection of its own for
// the whole run. The RunLock releases it when destroyed, before closing its connection; the server
// also releases it when that connection closes, and when the process is killed, since the server
// then ends the backend.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "engine/pg.h"

namespace sluice::engine {

// Who holds a lock, from pg_locks joined with pg_stat_activity.
struct LockHolder {
    int pid = 0;                   // 0: unidentified (a prepared transaction, or it kept changing hands)
    std::string application_name;  // "" when the holder set none
    std::string client_addr;       // "local socket" for a Unix-socket client; "" when this role may not see it
    std::string since;             // backend_start, "2026-11-26 09:40:12 UTC"; "" when this role may not see it

    // One line, e.g. "pid 1234 (sluice lock, from 10.0.0.5, connected since 2026-11-26 09:40:12 UTC)";
    // the parts that are unknown are left out.
    std::string describe() const;
};

// The lock on one key, within the database the connection string names (advisory locks are per
// database). Not thread-safe: one owner (the run's main thread) calls it; another thread may only
// set the `stop` flag that acquire() watches.
class RunLock {
public:
    // Opens its own connection ("lock", so application_name "sluice lock" unless the connection
    // string sets one); throws PgError when it cannot. `key` is any text: the lock is on the bigint
    // hashtextextended(key, 0), so two keys whose hashes collide share a lock.
    RunLock(const std::string& conninfo, std::string key);
    // Releases the lock (pg_advisory_unlock), then closes the connection. Unlocking first matters
    // where a pooler keeps the server session after the client has gone (PgBouncer in session mode
    // without its DISCARD ALL reset): the lock would stay behind in the pool, held for no one.
    ~RunLock();
    RunLock(const RunLock&) = delete;
    RunLock& operator=(const RunLock&) = delete;

    // One try: empty when acquired (or already held by this object), else who holds it.
    std::optional<LockHolder> try_acquire();

    // Tries until acquired, `wait` has passed (zero: one try) or `stop` is set, about every 500 ms.
    // Calls `waiting(holder)` (if set) when it first finds the lock held and is going to wait, then
    // about every 10 s while it waits. Empty when acquired, else the last holder seen.
    std::optional<LockHolder> acquire(std::chrono::milliseconds wait, const std::atomic<bool>& stop,
                                      const std::function<void(const LockHolder&)>& waiting);

    // Whether this object's connection is alive and holds the lock (asks pg_locks for its own pid).
    // False once the connection is lost: the server then released the lock.
    bool held();

    // After a lost connection: connects again (throws PgError when it cannot) and tries once more;
    // the same result as try_acquire().
    std::optional<LockHolder> reacquire();

    // Who holds the lock on `key` in `conn`'s database now, if anyone, without taking it: for
    // commands that must refuse while a run holds it. `conn` itself counts as a holder.
    static std::optional<LockHolder> holder(Connection& conn, const std::string& key);

private:
    void connect();

    std::string conninfo_;  // kept to reconnect; may hold a password, so never in a message
    std::string key_;
    std::unique_ptr<Connection> conn_;
    bool acquired_ = false;  // this object took the lock on conn_ (it is re-entrant on the server: take it once)
};

}  // namespace sluice::engine
