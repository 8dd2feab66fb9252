// The lock watcher: pg_locks' waitstart for how long, pg_blocking_pids() for whom.
#include "engine/lock_watch.h"

#include <cstdlib>
#include <map>
#include <memory>

#include "engine/pg.h"
#include "engine/sessions.h"

namespace sluice::engine {

namespace {

// Each of our sessions that waits for a lock: how long, and one session that blocks it.
constexpr const char* kWaits =
    "SELECT w.pid, floor(extract(epoch FROM now() - min(l.waitstart)))::bigint,"
    " (array_agg(b.pid))[1], (array_agg(coalesce(nullif(b.application_name, ''), 'no application name')))[1],"
    " (array_agg(left(regexp_replace(b.query, '\\s+', ' ', 'g'), 160)))[1]"
    " FROM pg_stat_activity w JOIN pg_locks l ON l.pid = w.pid AND NOT l.granted"
    " CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS blocker(pid)"
    " JOIN pg_stat_activity b ON b.pid = blocker.pid"
    " WHERE w.pid = ANY($1::int[]) GROUP BY w.pid";

}  // namespace

std::optional<std::string> exclusive_locker(Connection& conn, const std::string& relation) {
    Result r = conn.exec(
        "SELECT l.pid, coalesce(nullif(a.application_name, ''), 'no application name'),"
        " left(regexp_replace(a.query, '\\s+', ' ', 'g'), 120)"
        " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'relation' AND l.relation = to_regclass($1) AND l.mode = 'AccessExclusiveLock'"
        " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND l.pid <> pg_backend_pid() ORDER BY l.granted DESC LIMIT 1",
        {relation});
    if (PQntuples(r.get()) == 0) return std::nullopt;
    return std::string("pid ") + PQgetvalue(r.get(), 0, 0) + " (" + PQgetvalue(r.get(), 0, 1) +
           ", running: " + PQgetvalue(r.get(), 0, 2) + ")";
}

LockWatch::LockWatch(std::string conninfo, std::function<void(const std::string&)> say, std::chrono::seconds after,
                     std::chrono::seconds every)
    : conninfo_(std::move(conninfo)), say_(std::move(say)), after_(after), every_(every), thread_([this] { run(); }) {}

LockWatch::~LockWatch() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        done_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

void LockWatch::run() {
    std::unique_ptr<Connection> conn;
    std::map<int, long long> said_at;  // pid -> the wait (seconds) at which it was last reported
    try {
        // Nothing can be reported before a wait has lasted `after_` (pg_locks dates each wait):
        // a run that ends sooner never needed the connection or its queries.
        {
            std::unique_lock<std::mutex> lock(mutex_);
            if (wake_.wait_for(lock, after_ - std::chrono::milliseconds(500), [this] { return done_; })) return;
        }
        conn = std::make_unique<Connection>(conninfo_, "lock watch");
        sessions::set_cancellable(conn->raw(), false);
        const int self = PQbackendPID(conn->raw());
        for (std::unique_lock<std::mutex> lock(mutex_); !done_;) {
            if (wake_.wait_for(lock, std::chrono::milliseconds(500), [this] { return done_; })) break;
            std::string pids = "{";
            std::map<int, std::string> labels;
            for (const sessions::Session& s : sessions::all()) {
                if (s.pid == self || s.pid == 0) continue;
                pids += (pids.size() > 1 ? "," : "") + std::to_string(s.pid);
                labels[s.pid] = s.label;
            }
            if (labels.empty()) continue;
            lock.unlock();
            Result r = conn->exec(kWaits, {pids + "}"});
            lock.lock();
            std::map<int, long long> still;
            for (int i = 0; i < PQntuples(r.get()); ++i) {
                const int pid = std::atoi(PQgetvalue(r.get(), i, 0));
                const long long waited = std::atoll(PQgetvalue(r.get(), i, 1));
                auto last = said_at.find(pid);
                const bool due =
                    last == said_at.end() ? waited >= after_.count() : waited - last->second >= every_.count();
                if (!due) {
                    if (last != said_at.end()) still[pid] = last->second;
                    continue;
                }
                still[pid] = waited;
                say_(labels[pid] + " has waited " + std::to_string(waited) + " s for a lock held by pid " +
                     PQgetvalue(r.get(), i, 2) + " (" + PQgetvalue(r.get(), i, 3) +
                     ", running: " + PQgetvalue(r.get(), i, 4) + "); end that session, or stop sluice with Ctrl-C");
            }
            said_at.swap(still);
        }
    } catch (const std::exception&) {
        // Reports are a courtesy: a watcher that lost its connection watches no more.
    }
}

}  // namespace sluice::engine
