// The column, the state tables and the stamp.
#include "stages/current_message/phases.h"

#include <stdexcept>

#include "engine/progress.h"
#include "engine/run_fence.h"
#include "stages/current_message/checkpoint.h"
#include "stages/openwebui.h"

namespace sluice::stages::current_message {

namespace {

using openwebui::kCurrentMessageRevisionAfter;
using openwebui::kCurrentMessageRevisionBefore;

bool has_column(engine::Connection& conn, const std::string& schema) {
    engine::Result r = conn.exec(
        "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1)"
        " AND attname = 'current_message_id' AND attnum > 0 AND NOT attisdropped",
        {engine::qualified(schema, openwebui::kChat)});
    return PQntuples(r.get()) == 1;
}

// Inside publish's transaction: the stamp, or why there is none.
std::string stamp_alembic(engine::Connection& conn, const std::string& schema) {
    const std::string table = engine::qualified(schema, openwebui::kAlembicVersion);
    engine::Result v = conn.exec("SELECT version_num FROM " + table + " FOR UPDATE");
    const std::string found = PQntuples(v.get()) == 1 ? PQgetvalue(v.get(), 0, 0) : "";
    if (found == kCurrentMessageRevisionAfter)
        return std::string("alembic_version already holds ") + kCurrentMessageRevisionAfter;
    if (found != kCurrentMessageRevisionBefore)
        throw std::runtime_error("--stamp-alembic: alembic_version holds " +
                                 (found.empty() ? std::string("no single row") : "'" + found + "'") + ", not " +
                                 kCurrentMessageRevisionBefore + "; nothing was stamped: run without --stamp-alembic");
    conn.exec("UPDATE " + table + " SET version_num = $1", {std::string(kCurrentMessageRevisionAfter)});
    return std::string("alembic_version moved from ") + kCurrentMessageRevisionBefore + " to " +
           kCurrentMessageRevisionAfter;
}

}  // namespace

std::string prepare(engine::Connection& conn, const std::string& schema) {
    std::string said = engine::qualified(schema, openwebui::kChat) + ".current_message_id ";
    if (has_column(conn, schema)) {
        said += "exists";
    } else {
        engine::show_progress("adding the column current_message_id to chat");
        engine::in_transaction(conn, [&] {
            // As upstream adds it: nullable, no default, so that no row is rewritten.
            conn.exec("ALTER TABLE " + engine::qualified(schema, openwebui::kChat) +
                      " ADD COLUMN IF NOT EXISTS current_message_id TEXT");
            engine::hold_fence(conn);
        });
        said += "added (TEXT)";
    }
    create_state_tables(conn, schema);
    return said + "; the job's tables " + engine::qualified(schema, kCheckpointTable) + " and " +
           reject_table(schema).qualified_name() + " are ready";
}

void require_column(engine::Connection& conn, const std::string& schema) {
    if (!has_column(conn, schema))
        throw std::runtime_error(engine::qualified(schema, openwebui::kChat) +
                                 " has no column current_message_id yet: run the schema phase first (--phases "
                                 "schema,backfill,publish)");
}

std::string publish(engine::Connection& conn, const std::string& schema, bool stamp,
                    std::optional<std::uint64_t> max_rejects) {
    engine::show_progress("checking that every range is committed, then stamping, in one transaction");
    std::string what;
    engine::in_transaction(conn, [&] {
        const std::optional<Progress> p = load_progress(conn, schema);
        if (!p || !p->complete())
            throw std::runtime_error("not publishing: the backfill is not complete (" +
                                     std::to_string(p ? p->ranges_complete : 0) + " of " +
                                     std::to_string(p ? p->ranges : 0) + " ranges); run sluice migrate --revision " +
                                     kCurrentMessageRevisionAfter + " with every phase");
        const std::uint64_t rejected = reject_table(schema).count(conn);
        if (max_rejects && rejected > *max_rejects)
            throw std::runtime_error("not publishing: " + std::to_string(rejected) +
                                     " chats were rejected, more than --max-rejects " + std::to_string(*max_rejects) +
                                     " allows");
        if (!stamp) {
            what = std::string("every chat is done; alembic_version left at ") + kCurrentMessageRevisionBefore +
                   " (no --stamp-alembic)";
            return;
        }
        what = "every chat is done; " + stamp_alembic(conn, schema);
        engine::hold_fence(conn);
    });
    return what;
}

}  // namespace sluice::stages::current_message
