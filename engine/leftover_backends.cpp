// Leftover backends: found through pg_locks, ended with pg_cancel_backend, then pg_terminate_backend.
#include "engine/leftover_backends.h"

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "engine/sessions.h"

namespace sluice::engine {

namespace {

std::string own_pids() {
    std::string out = "{";
    for (const sessions::Session& s : sessions::all())
        out += (out.size() > 1 ? "," : "") + std::to_string(s.pid);
    return out + "}";
}

}  // namespace

std::vector<Leftover> find_leftovers(Connection& conn, const std::vector<std::string>& relations) {
    Result r = conn.exec(
        "SELECT DISTINCT a.pid, a.application_name, left(regexp_replace(a.query, '\\s+', ' ', 'g'), 120)"
        " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.relation IN (SELECT to_regclass(x)::oid FROM unnest($1::text[]) AS x WHERE to_regclass(x) IS NOT "
        "NULL)"
        " AND a.application_name LIKE 'sluice %' AND a.application_name <> 'sluice verify'"
        " AND a.pid <> ALL ($2::int[]) AND a.pid <> pg_backend_pid()",
        {text_array(relations), own_pids()});
    std::vector<Leftover> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        out.push_back({std::atoi(PQgetvalue(r.get(), i, 0)), PQgetvalue(r.get(), i, 1), PQgetvalue(r.get(), i, 2)});
    }
    return out;
}

unsigned end_leftovers(Connection& conn, const std::vector<std::string>& relations,
                       const std::function<void(const std::string&)>& say, int patience_seconds) {
    std::vector<Leftover> found = find_leftovers(conn, relations);
    for (const Leftover& l : found) {
        say("an earlier run's backend pid " + std::to_string(l.pid) + " (" + l.application_name +
            ") is still running " + l.query + ": cancelling it");
        conn.exec("SELECT pg_cancel_backend($1)", {std::to_string(l.pid)});
    }
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    bool terminated = false;
    for (std::vector<Leftover> left = found; !left.empty(); left = find_leftovers(conn, relations)) {
        const auto waited = Clock::now() - start;
        if (waited > std::chrono::seconds(patience_seconds)) {
            throw std::runtime_error("an earlier run's backend pid " + std::to_string(left.front().pid) +
                                     " would not end (pg_terminate_backend); end it, then run sluice again");
        }
        // A cancelled backend whose client is gone ends when it reports the cancel; one that
        // holds on after a few seconds is terminated.
        if (!terminated && waited > std::chrono::seconds(3)) {
            for (const Leftover& l : left) {
                say("backend pid " + std::to_string(l.pid) + " ignored the cancel: terminating it");
                conn.exec("SELECT pg_terminate_backend($1)", {std::to_string(l.pid)});
            }
            terminated = true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return static_cast<unsigned>(found.size());
}

}  // namespace sluice::engine
