// The server's checks: pg_is_in_recovery() and default_transaction_read_only, the pooling probe,
// and the connection limits from pg_roles, pg_database, the settings and pg_stat_activity.
#include "stages/commands/server_checks.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "engine/pooling.h"
#include "engine/sessions.h"
#include "engine/words.h"

namespace sluice::stages {

namespace {

using config::Phase;

CheckResult result(const char* name, Verdict verdict, std::string detail) {
    return {name, verdict, std::move(detail)};
}

// Where a setting's value came from (pg_settings.source), as an operator would look for it.
std::string set_by(const std::string& source) {
    if (source == "database") return "set on the database (ALTER DATABASE ... SET)";
    if (source == "user") return "set on the role (ALTER ROLE ... SET)";
    if (source == "database user") return "set on the role in this database (ALTER ROLE ... IN DATABASE ... SET)";
    if (source == "client") return "set by the connection string (options)";
    if (source == "configuration file") return "set in the server's configuration";
    return "set by " + source;
}

// The lock's and the lock watcher's connections, and each phase's control connection
// (stages/commands/migrate.cpp): open all run long. The lock's keeper (engine/lock_keeper.h) asks over the
// lock's own connection, and the fence is taken over a control connection closed before the phases.
constexpr unsigned kRunConnections = 3;

// The tightest of the limits on this role's new connections: how many more the run may open.
struct Room {
    long long free = 0;
    std::string what;     // the limit and what uses it, for the line
    std::string raise;    // the statement that raises it, but for the new value
    long long limit = 0;  // its value now
    std::string raise_by(long long more) const { return raise + std::to_string(limit + more); }
};

std::string others(long long n) {
    return n == 0 ? "no other session" : engine::plural(n, "other session");
}

// The sessions that are not this process's own count against the limits; this process's own are
// the run's (the lock, its watcher and this check, in a migrate), and those it has just closed
// are going. Rows of other roles' backends hide backend_type from a role without
// pg_read_all_stats: those with a database count as clients.
Room connection_room(engine::Connection& conn) {
    std::vector<std::string> pids;
    for (const engine::sessions::Session& s : engine::sessions::all())
        pids.push_back(std::to_string(s.pid));
    for (int pid : engine::sessions::closed())
        pids.push_back(std::to_string(pid));
    engine::Result r = conn.exec(
        "WITH a AS (SELECT usesysid, datid FROM pg_stat_activity WHERE pid <> ALL ($1::int[]) AND"
        " coalesce(backend_type, CASE WHEN datid IS NOT NULL THEN 'client backend' END) = 'client backend')"
        " SELECT r.rolsuper, r.rolconnlimit, d.datconnlimit, r.rolname, d.datname,"
        " current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int"
        " + CASE WHEN coalesce(pg_has_role(to_regrole('pg_use_reserved_connections'), 'USAGE'), false) THEN 0"
        " ELSE coalesce(current_setting('reserved_connections', true), '0')::int END,"  // PostgreSQL 16
        " (SELECT count(*) FROM a WHERE a.usesysid = r.oid), (SELECT count(*) FROM a WHERE a.datid = d.oid),"
        " (SELECT count(*) FROM a)"
        " FROM pg_roles r, pg_database d WHERE r.rolname = session_user AND d.datname = current_database()",
        {engine::text_array(pids)});
    auto number = [&](int column) { return std::atoll(PQgetvalue(r.get(), 0, column)); };
    // A superuser may use the reserved slots, and no role's or database's limit applies to it.
    const bool superuser = PQgetvalue(r.get(), 0, 0)[0] == 't';
    const long long max = number(5), reserved = superuser ? 0 : number(6);
    Room room{max - reserved - number(9),
              "the server has max_connections " + std::to_string(max) +
                  (reserved ? ", " + std::to_string(reserved) + " of them reserved for superusers," : "") + " and " +
                  others(number(9)),
              "raise max_connections (a server restart) to ", max};
    const std::string role = engine::quote_ident(PQgetvalue(r.get(), 0, 3));
    if (!superuser && number(1) >= 0 && number(1) - number(7) < room.free)
        room = {number(1) - number(7),
                "role " + role + " has CONNECTION LIMIT " + std::to_string(number(1)) + " and " + others(number(7)),
                "ALTER ROLE " + role + " CONNECTION LIMIT ", number(1)};
    const std::string database = engine::quote_ident(PQgetvalue(r.get(), 0, 4));
    if (!superuser && number(2) >= 0 && number(2) - number(8) < room.free)
        room = {
            number(2) - number(8),
            "database " + database + " has CONNECTION LIMIT " + std::to_string(number(2)) + " and " + others(number(8)),
            "ALTER DATABASE " + database + " CONNECTION LIMIT ", number(2)};
    return room;
}

// The lanes and index connections, each at most as configured, that `free` connections hold.
ConnectionFit fit_into(const config::RunConfig& cfg, long long free) {
    ConnectionFit fit{cfg.lanes, cfg.index_connections};
    while (fit.lanes > 1 && connections_needed(cfg, fit.lanes, 1) > free)
        --fit.lanes;
    while (fit.index_connections > 1 && connections_needed(cfg, 1, fit.index_connections) > free)
        --fit.index_connections;
    return fit;
}

}  // namespace

CheckResult check_writable(engine::Connection& conn) {
    engine::Result r = conn.exec(
        "SELECT pg_is_in_recovery(), setting, source FROM pg_settings"
        " WHERE name = 'default_transaction_read_only'");
    if (PQgetvalue(r.get(), 0, 0)[0] == 't')
        return result("server", Verdict::failed,
                      "the server is a standby (in recovery): nothing can be written there; point --db at the "
                      "primary");
    if (std::string(PQgetvalue(r.get(), 0, 1)) == "on")
        return result("server", Verdict::failed,
                      "transactions are read-only here (default_transaction_read_only is on, " +
                          set_by(PQgetvalue(r.get(), 0, 2)) +
                          "): sluice's writes would fail; point --db at the primary, writable server");
    return result("server", Verdict::ok, "a primary that takes writes");
}

CheckResult check_pooling(const config::RunConfig& cfg, engine::Connection* first) {
    // Probed once a process: migrate asks before its lock and again in its preflight, a moment
    // later, and each probe costs a connection or two.
    static std::mutex mutex;
    static std::map<std::string, std::optional<std::string>> probed;
    std::lock_guard<std::mutex> lock(mutex);
    auto known = probed.find(cfg.db_url);
    if (known == probed.end()) known = probed.emplace(cfg.db_url, engine::transaction_pooling(cfg.db_url, first)).first;
    const std::optional<std::string>& pooled = known->second;
    if (!pooled) return result("pooler", Verdict::ok, "each connection keeps a server session of its own");
    return result("pooler", Verdict::failed,
                  "--db leads through a pooler in transaction or statement mode (" + *pooled +
                      "), as PgBouncer's pool_mode = transaction, Supavisor's port 6543 or CloudNativePG's Pooler "
                      "do; sluice's lock and snapshot live in a session, which such a pooler shares out: give --db "
                      "a direct URL to the server, or one through a session-mode pool");
}

unsigned connections_needed(const config::RunConfig& cfg, unsigned lanes, unsigned index_connections) {
    // The backfill: a reader and a writer a lane, and with more than one lane the session that
    // exports their snapshot while they start. The indexes phase: its probe, its progress display
    // and its index connections.
    const unsigned backfill = cfg.runs(Phase::backfill) ? 2 * lanes + (lanes > 1 ? 1 : 0) : 0;
    const unsigned indexes = cfg.runs(Phase::indexes) ? 2 + index_connections : 0;
    return kRunConnections + std::max(backfill, indexes);
}

CheckResult check_connections(engine::Connection& conn, const config::RunConfig& cfg, ConnectionFit& fit) {
    const Room room = connection_room(conn);
    const unsigned least = connections_needed(cfg, 1, 1);
    const std::string limit = std::to_string(std::max(0LL, room.free)) + " (" + room.what + ")";
    if (room.free < least) {
        return result("connections", Verdict::failed,
                      "room for " + limit + ", and the run needs " + std::to_string(least) +
                          " at once even with one lane and one index connection: " + room.raise_by(least - room.free) +
                          ", or end other sessions");
    }
    // One to spare where the room is tight: a phase's sessions close as the next phase's open, and
    // a closed session's backend counts against the limits for a moment after.
    fit = fit_into(cfg, std::max<long long>(least, room.free - 1));
    const std::string fitted =
        engine::plural(fit.lanes, "lane") +
        (cfg.runs(Phase::indexes) ? ", " + engine::plural(fit.index_connections, "index connection") : "");
    if (fit.lanes == cfg.lanes && fit.index_connections == cfg.index_connections)
        return result("connections", Verdict::ok,
                      "at most " + std::to_string(connections_needed(cfg, fit.lanes, fit.index_connections)) +
                          " at once (" + fitted + "); room for " + limit);
    std::vector<std::string> lowered;
    if (fit.lanes != cfg.lanes)
        lowered.push_back("--lanes from " + std::to_string(cfg.lanes) + " to " + std::to_string(fit.lanes));
    if (fit.index_connections != cfg.index_connections)
        lowered.push_back("--index-connections from " + std::to_string(cfg.index_connections) + " to " +
                          std::to_string(fit.index_connections));
    return result("connections", Verdict::warning,
                  "room for " + limit + ": migrate lowers " + lowered.front() +
                      (lowered.size() > 1 ? " and " + lowered.back() : "") + ", to open at most " +
                      std::to_string(connections_needed(cfg, fit.lanes, fit.index_connections)) + " at once");
}

}  // namespace sluice::stages
