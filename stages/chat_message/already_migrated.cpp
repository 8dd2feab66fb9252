// The "anything to write?" decision: catalog queries on one session, before migrate or check
// does anything else.
#include "stages/chat_message/already_migrated.h"

#include <cstdlib>
#include <stdexcept>

#include "stages/chat_message/checkpoint.h"
#include "stages/chat_message/phases.h"
#include "stages/chat_message/target.h"
#include "stages/openwebui.h"
#include "stages/shared/catalog.h"

namespace sluice::stages {

namespace {

using openwebui::kRevisionAfter;
using openwebui::kRevisionBefore;
// Rows counted, at most, where the catalog has no estimate (a table never analyzed nor indexed
// since it had rows): a bounded count stays well under a second on any table.
constexpr long long kMostCounted = 100000;

// A revision after 8452d01d26d7: any but it and its predecessor, where chat_message is in shape
// (the chain runs on past it: 856c5b02fb54, 9a1b2c3d4e5f, ...).
bool past(const std::optional<std::string>& revision) {
    return revision && *revision != kRevisionBefore && *revision != kRevisionAfter;
}

// How many messages chat_message holds, without a scan: the catalog's estimate (an index build,
// VACUUM or ANALYZE sets it), else the checkpoint's count of what the run wrote, else a count
// that stops at kMostCounted.
std::string messages_held(engine::Connection& conn, const Target& t, const std::optional<Checkpoint>& cp) {
    engine::Result r = conn.exec("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass($1)", {t.qualified()});
    const long long estimate = std::atoll(PQgetvalue(r.get(), 0, 0));
    if (estimate >= 0) return "about " + std::to_string(estimate) + " messages (estimated)";
    if (cp) return std::to_string(cp->messages + cp->present - cp->removed) + " messages (sluice's checkpoint)";
    engine::Result n = conn.exec("SELECT count(*) FROM (SELECT 1 FROM " + t.qualified() + " LIMIT " +
                                 std::to_string(kMostCounted + 1) + ") s");
    const long long counted = std::atoll(PQgetvalue(n.get(), 0, 0));
    if (counted > kMostCounted) return "more than " + std::to_string(kMostCounted) + " messages";
    return std::to_string(counted) + " messages";
}

std::uint64_t rejects_held(engine::Connection& conn, const std::string& schema, const std::optional<Checkpoint>& cp) {
    const engine::RejectTable rejects = reject_table(schema);
    if (rejects.exists(conn)) return rejects.count(conn);
    return cp ? cp->rejected : 0;
}

// Whether sluice's own view of the table says every phase is done and nothing is left to stamp.
bool sluice_done(engine::Connection& conn, const config::JobSettings& cfg, const Target& t,
                 const std::optional<std::string>& revision) {
    try {
        if (!unfinished_work(conn, t, cfg.max_rejects).empty()) return false;
    } catch (const std::runtime_error&) {  // a relation of someone else's under an index name: the phases say so
        return false;
    }
    return !cfg.stamp_alembic || revision == kRevisionAfter;
}

}  // namespace

std::string AlreadyMigrated::what() const {
    return "already migrated (alembic " + revision + ", " + messages + ", " + std::to_string(rejected) + " rejected)";
}

std::optional<AlreadyMigrated> already_migrated(engine::Connection& conn, const config::JobSettings& cfg) {
    if (cfg.resync || !relation_exists(conn, cfg.schema, openwebui::kChat) ||
        !relation_exists(conn, cfg.schema, kChatMessage))
        return std::nullopt;
    const Target table{cfg.schema, kChatMessage};
    if (!migrated_shape(conn, table)) return std::nullopt;  // the phases refuse it, saying how it differs
    const std::optional<std::string> revision = alembic_revision(conn, cfg.schema);
    std::optional<Checkpoint> cp = load_checkpoint(conn, cfg.schema);
    if (cp && !cp->describes(kChatMessage)) cp.reset();
    // Past 8452d01d26d7 the app's own migrations own the table (they drop indexes, delete rows):
    // sluice's view of it no longer counts. At it, sluice's unfinished work on it does.
    const bool done = past(revision) || (cp ? sluice_done(conn, cfg, table, revision) : revision == kRevisionAfter);
    if (!done) return std::nullopt;
    return AlreadyMigrated{revision.value_or("no alembic_version"), messages_held(conn, table, cp),
                           rejects_held(conn, cfg.schema, cp)};
}

std::optional<AlreadyMigrated> already_migrated(const config::JobSettings& cfg) {
    engine::Connection conn(cfg.db_url, "check");
    return already_migrated(conn, cfg);
}

std::string alembic_problem(engine::Connection& conn, const std::string& schema) {
    const std::optional<std::string> revision = alembic_revision(conn, schema);
    if (!past(revision)) return {};
    if (relation_exists(conn, schema, kChatMessage) && migrated_shape(conn, Target{schema, kChatMessage})) return {};
    return "alembic_version holds '" + *revision + "', neither " + kRevisionBefore +
           " (the revision right before chat_message) nor " + kRevisionAfter +
           " or a later one with chat_message in place; sluice has written nothing: bring the database to " +
           kRevisionBefore + " with the new Open WebUI image's own alembic (alembic upgrade " + kRevisionBefore +
           "), then run sluice again";
}

}  // namespace sluice::stages
