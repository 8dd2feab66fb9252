// The run lock: pg_try_advisory_lock on a connection of its own, and who holds it, from pg_locks.
#include "engine/run_lock.h"

#include <algorithm>
#include <cstdlib>
#include <thread>
#include <utility>
#include <vector>

#include "engine/sessions.h"

namespace sluice::engine {

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kLocalSocket = "local socket";
constexpr auto kPoll = std::chrono::milliseconds(500);
constexpr auto kStopCheck = std::chrono::milliseconds(20);  // how soon acquire() notices `stop`
constexpr auto kReportEvery = std::chrono::seconds(10);
// A wait of a century is forever; capped so that now + wait cannot overflow the clock.
constexpr auto kForever = std::chrono::hours(24 * 365 * 100);
// The holder can let go between our failed try and the look at pg_locks; then we try again, but a
// lock that changes hands every few milliseconds is not worth chasing for long.
constexpr int kRaceTries = 5;

constexpr const char* kTryLockSql = "SELECT pg_try_advisory_lock(hashtextextended($1, 0))";
constexpr const char* kUnlockSql = "SELECT pg_advisory_unlock(hashtextextended($1, 0))";

// The pg_locks row (alias l) of the bigint advisory lock on hashtextextended($1, 0) in this
// database. The bigint form has objsubid 1 and its key split into two oids: classid the high
// 32 bits, objid the low 32 bits, both unsigned. `>>` keeps the bigint's sign and `&` drops it,
// so both sides compare as non-negative bigints.
constexpr const char* kLockRow =
    " FROM pg_locks l CROSS JOIN (SELECT hashtextextended($1, 0) AS key) k"
    " LEFT JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted"
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND l.classid::bigint = (k.key >> 32) & 4294967295 AND l.objid::bigint = k.key & 4294967295";

// pid is NULL for a prepared transaction. client_port is -1 for a Unix socket; it and the other
// details are NULL for a backend this role may not see (another role's, without pg_read_all_stats).
const std::string kHolderSql =
    "SELECT coalesce(l.pid, 0), coalesce(a.application_name, ''),"
    " CASE WHEN a.client_port = -1 THEN 'local socket' ELSE coalesce(host(a.client_addr), '') END,"
    " coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"'), '')" +
    std::string(kLockRow) + " ORDER BY a.backend_start, l.pid LIMIT 1";

const std::string kHeldSql = "SELECT count(*)" + std::string(kLockRow) + " AND l.pid = pg_backend_pid()";

std::string value(const Result& r, int column) {
    return PQgetvalue(r.get(), 0, column);
}

}  // namespace

std::string LockHolder::describe() const {
    std::vector<std::string> parts;
    if (!application_name.empty()) parts.push_back(application_name);
    if (client_addr == kLocalSocket)
        parts.push_back("via local socket");
    else if (!client_addr.empty())
        parts.push_back("from " + client_addr);
    if (!since.empty()) parts.push_back("connected since " + since);
    std::string out = pid ? "pid " + std::to_string(pid) : "an unidentified session";
    for (std::size_t i = 0; i < parts.size(); ++i)
        out += (i ? ", " : " (") + parts[i];
    return parts.empty() ? out : out + ")";
}

RunLock::RunLock(const std::string& conninfo, std::string key) : conninfo_(conninfo), key_(std::move(key)) {
    connect();
}

RunLock::~RunLock() {
    if (!acquired_ || !conn_ || PQstatus(conn_->raw()) != CONNECTION_OK) return;
    try {
        conn_->exec(kUnlockSql, {key_});
    } catch (const std::exception&) {
        // A lost connection released the lock with its backend; a destructor does not throw.
    }
}

void RunLock::connect() {
    // The old connection goes first: were it still alive, it would hold the lock against the new one.
    acquired_ = false;
    conn_.reset();
    conn_ = std::make_unique<Connection>(conninfo_, "lock");
    // acquire() watches the stop flag itself; a cancelled try would only turn a clean stop into an error.
    sessions::set_cancellable(conn_->raw(), false);
    // A client that vanishes without closing (a dead host, a cut network) holds the lock until
    // the server notices: keepalives make that about two minutes, not the kernel's two hours.
    // PostgreSQL ignores them on a Unix socket, where a vanished client is noticed at once.
    conn_->exec("SET tcp_keepalives_idle = 60; SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 6");
}

std::optional<LockHolder> RunLock::try_acquire() {
    // Advisory locks are re-entrant on the server: a second grant would need a second unlock.
    if (acquired_) return std::nullopt;
    if (!conn_) connect();  // a reacquire() that could not connect left none
    for (int attempt = 0; attempt < kRaceTries; ++attempt) {
        Result r = conn_->exec(kTryLockSql, {key_});
        if (value(r, 0) == "t") {
            acquired_ = true;
            return std::nullopt;
        }
        if (std::optional<LockHolder> who = holder(*conn_, key_)) return who;
    }
    return LockHolder{};  // it changed hands each time we looked: held, by someone we could not see
}

std::optional<LockHolder> RunLock::acquire(std::chrono::milliseconds wait, const std::atomic<bool>& stop,
                                           const std::function<void(const LockHolder&)>& waiting) {
    const Clock::time_point deadline =
        Clock::now() + std::clamp<std::chrono::milliseconds>(wait, std::chrono::milliseconds::zero(), kForever);
    std::optional<Clock::time_point> next_report;
    for (;;) {
        std::optional<LockHolder> who = try_acquire();
        if (!who) return std::nullopt;
        Clock::time_point now = Clock::now();
        if (stop || now >= deadline) return who;
        if (waiting && (!next_report || now >= *next_report)) {
            waiting(*who);
            next_report = now + kReportEvery;
        }
        // Sleeps in short slices so that a stop (Ctrl-C) ends the wait at once, not at the next poll.
        const Clock::time_point until = std::min(now + kPoll, deadline);
        while (!stop && (now = Clock::now()) < until)
            std::this_thread::sleep_for(std::min<Clock::duration>(kStopCheck, until - now));
    }
}

bool RunLock::held() {
    if (!conn_ || PQstatus(conn_->raw()) != CONNECTION_OK) return acquired_ = false;
    try {
        Result r = conn_->exec(kHeldSql, {key_});
        acquired_ = value(r, 0) != "0";
    } catch (const PgError& e) {
        // A terminated backend says 57P01 as it goes, a vanished one breaks the connection: either
        // way the server has released the lock. Anything else is a real failure.
        if (e.action() != ErrorAction::reconnect && PQstatus(conn_->raw()) == CONNECTION_OK) throw;
        acquired_ = false;
    }
    return acquired_;
}

std::optional<LockHolder> RunLock::reacquire() {
    connect();
    return try_acquire();
}

std::optional<LockHolder> RunLock::holder(Connection& conn, const std::string& key) {
    Result r = conn.exec(kHolderSql, {key});
    if (PQntuples(r.get()) == 0) return std::nullopt;
    LockHolder h;
    h.pid = std::atoi(PQgetvalue(r.get(), 0, 0));
    h.application_name = value(r, 1);
    h.client_addr = value(r, 2);
    h.since = value(r, 3);
    return h;
}

}  // namespace sluice::engine
