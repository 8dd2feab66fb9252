// The preflight: each check a few catalog queries on one read-only session. The rules mirror
// what the phases do (stages/chat_message/target.cpp, stages/chat_message/phases.cpp, stages/commands/migrate.cpp)
// without calling the parts that write: prepare_target() would create the build table. The privileges check and the
// estimates are in preflight_privileges.cpp and preflight_estimates.cpp (preflight_facts.h).
#include "stages/commands/preflight.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <iterator>
#include <optional>

#include "engine/lock_watch.h"
#include "engine/log.h"
#include "engine/pg.h"
#include "engine/progress.h"
#include "engine/run_lock.h"
#include "engine/sessions.h"
#include "engine/words.h"
#include "stages/chat_message/already_migrated.h"
#include "stages/chat_message/phases.h"
#include "stages/chat_message/target.h"
#include "stages/commands/common.h"
#include "stages/commands/current_message_checks.h"
#include "stages/commands/preflight_facts.h"
#include "stages/commands/server_checks.h"
#include "stages/openwebui.h"
#include "stages/shared/catalog.h"

namespace sluice::stages {

namespace {

using namespace preflight_checks;  // Facts, the query helpers, the checks of preflight_*.cpp
using engine::joined;

// What an Open WebUI session may call itself; psycopg2, which it uses, sets no name at all.
constexpr const char* kAppNames = "(open.?web.?ui|uvicorn|gunicorn|sqlalchemy|psycopg|alembic|peewee|python)";

// ---------------------------------------------------------------- connection and chat

CheckResult check_connection(Connection& conn, Facts& facts) {
    engine::Result r = conn.exec("SELECT current_setting('server_version'), current_database(), current_user");
    facts.user = PQgetvalue(r.get(), 0, 2);
    return result("connection", Verdict::ok,
                  std::string("PostgreSQL ") + PQgetvalue(r.get(), 0, 0) + ", database " +
                      engine::quote_ident(PQgetvalue(r.get(), 0, 1)) + ", user " + engine::quote_ident(facts.user));
}

CheckResult check_chat(Connection& conn, Facts& facts) {
    // pg_total_relation_size() would wait behind another session's ACCESS EXCLUSIVE lock; the
    // catalog's pages do not.
    facts.locked_by = engine::exclusive_locker(conn, facts.chat_name());
    engine::Result r = conn.exec(
        std::string("SELECT c.reltuples::bigint, ") +
            (facts.locked_by ? "(c.relpages + coalesce(t.relpages, 0))::bigint * current_setting('block_size')::bigint"
                             : "pg_total_relation_size(c.oid)") +
            ", has_table_privilege(c.oid, 'SELECT') FROM pg_class c LEFT JOIN pg_class t ON t.oid = c.reltoastrelid"
            " WHERE c.oid = to_regclass($1)",
        {facts.chat_name()});
    if (PQntuples(r.get()) == 0)
        return result("chat", Verdict::failed,
                      "there is no table " + facts.chat_name() +
                          ": is this Open WebUI's database, and is the schema right (--schema, DATABASE_SCHEMA)?");
    facts.chat = true;
    facts.published = relation_exists(conn, facts.cfg.schema, kChatMessage);
    facts.building = relation_exists(conn, facts.cfg.schema, kBuildTable);
    if (PQgetvalue(r.get(), 0, 2)[0] != 't')
        return result("chat", Verdict::failed,
                      "user " + engine::quote_ident(facts.user) + " may not read " + facts.chat_name() +
                          ": GRANT SELECT ON " + facts.chat_name() + " to it, or run sluice as the table's owner");
    facts.readable = true;
    const long long rows = std::atoll(PQgetvalue(r.get(), 0, 0));
    const std::string stored = engine::human_bytes(std::strtoull(PQgetvalue(r.get(), 0, 1), nullptr, 10));
    if (facts.locked_by)
        return result("chat", Verdict::warning,
                      *facts.locked_by + " holds a lock on " + facts.chat_name() +
                          ": the run waits for it (end that session, or let it finish)");
    return result("chat", Verdict::ok,
                  facts.chat_name() + ": " + (rows >= 0 ? "about " + std::to_string(rows) + " chats, " : "") + stored +
                      " stored");
}

// ---------------------------------------------------------------- chat_message's shape

// The index names the indexes phase needs that a relation of someone else's holds.
std::vector<std::string> taken_index_names(Connection& conn, const Facts& facts, const Target& target) {
    std::vector<std::string> taken;
    for (const openwebui::IndexSpec& index : openwebui::kIndexes) {
        const bool theirs = yes(conn,
                                "SELECT NOT (coalesce(i.indrelid = to_regclass($2), false) OR (c.relkind = 'v' AND"
                                " coalesce(obj_description(c.oid, 'pg_class') LIKE 'sluice: %', false)))"
                                " FROM pg_class c LEFT JOIN pg_index i ON i.indexrelid = c.oid"
                                " WHERE c.oid = to_regclass($1)",
                                {facts.name(index.name), target.qualified()});
        if (theirs) taken.push_back(facts.name(index.name));
    }
    return taken;
}

// An existing chat_message that the owner of chat, Open WebUI's role, cannot alter (published by
// an older sluice run as another role): what to run, or "" when the app's role may alter it.
std::string unusable_owner(Connection& conn, const Facts& facts) {
    engine::Result r = conn.exec(
        "SELECT pg_get_userbyid(m.relowner), pg_get_userbyid(c.relowner) FROM pg_class m, pg_class c"
        " WHERE m.oid = to_regclass($1) AND c.oid = to_regclass($2)"
        " AND NOT pg_has_role(c.relowner, m.relowner, 'USAGE')",
        {facts.name(kChatMessage), facts.chat_name()});
    if (PQntuples(r.get()) == 0) return {};
    const std::string app = engine::quote_ident(PQgetvalue(r.get(), 0, 1));
    return "it is owned by " + engine::quote_ident(PQgetvalue(r.get(), 0, 0)) +
           ", and Open WebUI's later migrations, as " + app + " (the owner of chat), cannot alter it: ALTER TABLE " +
           facts.name(kChatMessage) + " OWNER TO " + app;
}

CheckResult check_shape(Connection& conn, const Facts& facts) {
    const bool schema_phase = facts.cfg.runs(Phase::schema);
    const std::optional<Target> target = facts.target();
    if (!target) {
        if (!schema_phase)
            return result("chat_message", Verdict::failed,
                          "neither " + facts.name(kChatMessage) + " nor sluice's build table " +
                              facts.name(kBuildTable) + " exists: run the schema phase first (--phases schema,...)");
        return result("chat_message", Verdict::ok,
                      "absent: the schema phase builds " + facts.name(kBuildTable) +
                          ", and publish renames it to chat_message when it is complete");
    }
    if (std::string problem = shape_problem(conn, *target); !problem.empty())
        return result("chat_message", Verdict::failed, problem);
    if (facts.published && facts.building && !schema_phase)
        return result("chat_message", Verdict::failed,
                      facts.name(kChatMessage) + " appeared beside sluice's build table " + facts.name(kBuildTable) +
                          ": run the schema phase (--phases schema,...), which completes it in place and drops the "
                          "build table");
    if (std::vector<std::string> taken = taken_index_names(conn, facts, *target); !taken.empty())
        return result("chat_message", Verdict::failed,
                      joined(taken, ", ") + (taken.size() == 1 ? " is" : " are") + " not an index of " +
                          target->qualified() + ", and the indexes phase needs the name: rename it, then run again");
    if (!facts.published)
        return result("chat_message", Verdict::ok,
                      "sluice's build table " + target->qualified() + " has upstream's shape: the run continues it");
    const std::string in_place = target->qualified() + " has upstream's shape: it is completed in place" +
                                 (facts.building ? "; the schema phase drops sluice's build table beside it" : "");
    if (std::string owner = unusable_owner(conn, facts); !owner.empty())
        return result("chat_message", Verdict::warning, in_place + "; but " + owner);
    return result("chat_message", Verdict::ok, in_place);
}

// ---------------------------------------------------------------- alembic, sessions, lock

CheckResult check_alembic(Connection& conn, const Facts& facts) {
    if (std::string problem = alembic_problem(conn, facts.cfg.schema); !problem.empty())
        return result("alembic", Verdict::failed, problem);
    if (!facts.cfg.stamp_alembic) return result("alembic", Verdict::skipped, "no --stamp-alembic: not moved");
    const std::string table = facts.name(openwebui::kAlembicVersion);
    if (relation_exists(conn, facts.cfg.schema, openwebui::kAlembicVersion) &&
        !yes(conn, "SELECT has_table_privilege($1, 'SELECT')", {table}))
        return result("alembic", Verdict::skipped, "cannot read " + table + " (see privileges)");
    check_alembic_revision(conn, facts.cfg.schema);  // throws, naming what it found, for any other revision
    const std::string found = cell(conn, "SELECT version_num FROM " + table);
    return result(
        "alembic", Verdict::ok,
        "alembic_version holds " + found +
            (found == openwebui::kRevisionAfter ? ": already stamped"
                                                : ": publish moves it to " + std::string(openwebui::kRevisionAfter)));
}

// The pids of this process's own sessions (a lock the caller holds, its control connection).
std::string own_pids() {
    std::vector<std::string> pids;
    for (const engine::sessions::Session& s : engine::sessions::all())
        pids.push_back(std::to_string(s.pid));
    return engine::text_array(pids);
}

// Open WebUI connects with psycopg2, which sets no application_name, as the user of its
// DATABASE_URL: any other client on this database as this user without a name counts, and so
// does one of any user with a name like the app's stack. psql, pgAdmin and sluice's own
// sessions ("sluice ...") do not, nor a pooler's spare server sessions, which serve no client: one
// that has run nothing yet (opened ahead of need) and one whose last statement is DISCARD ALL or
// RESET ALL (reset when its client left: PgBouncer's server_reset_query in session mode);
// sluice's own runs through such a pool leave them behind.
CheckResult check_sessions(Connection& conn, const Facts& facts) {
    engine::Result r = conn.exec(
        "SELECT a.pid, a.application_name, a.usename, CASE WHEN a.client_port = -1 THEN 'local socket'"
        " ELSE coalesce(host(a.client_addr), 'an unknown client') END"
        " FROM pg_stat_activity a WHERE a.datname = current_database() AND a.backend_type = 'client backend'"
        " AND a.pid <> pg_backend_pid() AND a.pid <> ALL ($1::int[]) AND a.application_name NOT LIKE 'sluice %'"
        " AND coalesce(a.query, '-') <> ALL (ARRAY['', 'DISCARD ALL', 'RESET ALL'])"
        " AND (a.application_name ~* $2 OR (a.application_name = '' AND a.usename = current_user))"
        " ORDER BY a.backend_start, a.pid",
        {own_pids(), std::string(kAppNames)});
    const int n = PQntuples(r.get());
    if (n == 0) return result("sessions", Verdict::ok, "no other session on this database looks like Open WebUI's");
    std::vector<std::string> who;
    for (int i = 0; i < std::min(n, 3); ++i) {
        const std::string name = PQgetvalue(r.get(), i, 1);
        who.push_back(std::string("pid ") + PQgetvalue(r.get(), i, 0) + " (" +
                      (name.empty() ? "no application_name" : engine::quote_ident(name)) + ", user " +
                      engine::quote_ident(PQgetvalue(r.get(), i, 2)) + ", from " + PQgetvalue(r.get(), i, 3) + ")");
    }
    if (n > 3) who.push_back("and " + std::to_string(n - 3) + " more");
    const std::string found =
        std::to_string(n) + (n == 1 ? " session looks" : " sessions look") + " like Open WebUI's: " + joined(who, ", ");
    if (facts.cfg.ignore_sessions)
        return result("sessions", Verdict::warning, found + "; going on (--ignore-sessions)");
    return result("sessions", Verdict::failed,
                  found + ": stop Open WebUI (every replica) first, or pass --ignore-sessions if they are not it");
}

CheckResult check_lock(Connection& conn, const Facts& facts) {
    const std::string schema = engine::quote_ident(facts.cfg.schema);
    std::optional<engine::LockHolder> holder = engine::RunLock::holder(conn, lock_key(facts.cfg.schema));
    if (!holder) return result("lock", Verdict::ok, "no other sluice migrate holds the lock on schema " + schema);
    for (const engine::sessions::Session& s : engine::sessions::all())
        if (s.pid == holder->pid) return result("lock", Verdict::ok, "this run holds the lock on schema " + schema);
    const std::string held = "another sluice migrate holds the lock on schema " + schema + ": " + holder->describe();
    if (facts.cfg.wait_for_lock.count() > 0)
        return result(
            "lock", Verdict::warning,
            held + "; migrate waits for it up to " + engine::human_duration(facts.cfg.wait_for_lock.count() / 1000.0));
    return result("lock", Verdict::failed, held + "; let it finish, or pass --wait-for-lock DURATION to wait");
}

// ---------------------------------------------------------------- running them

// A problem in one check fails that check; a lost connection or a stop request ends them all.
template <typename Check>
auto guarded(const char* name, Check&& check) -> decltype(check()) {
    try {
        return check();
    } catch (const engine::PgError& e) {
        const std::string& state = e.sqlstate();
        if (state.rfind("08", 0) == 0 || state.rfind("57", 0) == 0) throw;
        return decltype(check()){result(name, Verdict::failed, e.message())};  // without the connection's label
    } catch (const std::runtime_error& e) {
        return decltype(check()){result(name, Verdict::failed, e.what())};
    }
}

// The verdicts' words, in Verdict's order: the two that need reading stand out.
const char* const kVerdictWords[] = {"ok", "skipped", "WARNING", "FAILED"};

}  // namespace

std::vector<CheckResult> preflight(const config::RunConfig& cfg, ConnectionFit* fit) {
    Connection conn(cfg.db_url, "check");
    return preflight(cfg, conn, fit);
}

std::vector<CheckResult> preflight(const config::RunConfig& cfg, Connection& conn, ConnectionFit* fit) {
    Facts facts(cfg);
    std::vector<CheckResult> results{check_connection(conn, facts)};
    results.push_back(guarded("server", [&] { return check_writable(conn); }));  // asks the session's own default
    results.push_back(guarded("pooler", [&] { return check_pooling(cfg); }));
    // Whatever a check asks, this session cannot write: PostgreSQL refuses it (SQLSTATE 25006).
    // Not through a pooler of transactions, which would hand the setting on to other clients
    // (Open WebUI's among them) with the server session it lands on.
    if (results.back().verdict == Verdict::ok) conn.exec("SET default_transaction_read_only = on");
    results.push_back(guarded("chat", [&] { return check_chat(conn, facts); }));
    using Check = std::function<CheckResult(Connection&, const Facts&)>;
    const std::pair<const char*, Check> on_chat[] = {
        {"chat_message", check_shape}, {"privileges", check_privileges}, {"alembic", check_alembic}};
    if (runs_current_message(cfg))  // the second job's own, in place of the three below
        for (CheckResult& r : guarded("revision", [&] { return current_message_checks(conn, cfg); }))
            results.push_back(std::move(r));
    for (const auto& [name, check] : on_chat) {
        if (runs_current_message(cfg)) break;
        if (!facts.chat)
            results.push_back(result(name, Verdict::skipped, "needs " + facts.chat_name()));
        else
            results.push_back(guarded(name, [&, &check = check] { return check(conn, facts); }));
    }
    results.push_back(guarded("sessions", [&] { return check_sessions(conn, facts); }));
    ConnectionFit fitted{cfg.lanes, cfg.index_connections};
    results.push_back(guarded("connections", [&] { return check_connections(conn, cfg, fitted); }));
    if (fit) *fit = fitted;
    results.push_back(guarded("lock", [&] { return check_lock(conn, facts); }));
    if (!facts.readable || runs_current_message(cfg)) {
        const std::string why = facts.readable ? "not estimated for --revision " + cfg.revision
                                               : "needs " + facts.chat_name() + ", readable";
        for (const char* name : {"space", "time"})
            results.push_back(result(name, Verdict::skipped, why));
        return results;
    }
    // An estimate that cannot be made is no reason to refuse the run.
    for (CheckResult& r : guarded("estimate", [&] { return estimates(conn, facts); })) {
        if (r.verdict == Verdict::failed) r = result(r.name, Verdict::warning, "cannot estimate: " + r.detail);
        results.push_back(std::move(r));
    }
    return results;
}

std::string describe(const CheckResult& r) {
    std::string name = r.name, verdict = kVerdictWords[static_cast<int>(r.verdict)];
    name.resize(std::max<std::size_t>(name.size() + 1, 14), ' ');
    verdict.resize(9, ' ');
    return "  " + name + verdict + r.detail;
}

void refuse_unless_ready(const std::vector<CheckResult>& results) {
    std::vector<std::string> failed;
    for (const CheckResult& r : results) {
        if (r.verdict != Verdict::failed) continue;
        if (r.name == "lock") throw LockHeldError(r.detail);
        failed.push_back(r.name + ": " + r.detail);
    }
    if (!failed.empty())
        throw NotReadyError("not starting, nothing was written: " + joined(failed, "; ") +
                            " (sluice check shows every check)");
}

void refuse_behind_pooler(const config::RunConfig& cfg, engine::RunLock& lock) {
    refuse_unless_ready({check_pooling(cfg, lock.connection())});
}

}  // namespace sluice::stages
