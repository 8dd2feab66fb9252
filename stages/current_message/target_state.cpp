// The recognition of a database at 856c5b02fb54: its revision, then its tables and columns.
#include "stages/current_message/target_state.h"

#include "stages/current_message/checkpoint.h"
#include "stages/openwebui.h"
#include "stages/shared/catalog.h"

namespace sluice::stages::current_message {

namespace {

using openwebui::kCurrentMessageRevisionAfter;
using openwebui::kCurrentMessageRevisionBefore;

struct TableColumns {
    const char* table;
    std::vector<const char*> columns;
};

// What 856c5b02fb54 implies that the job reads: chat, and chat_message with the keys of its threads.
const TableColumns kRead[] = {{openwebui::kChat, {"id", "chat"}},
                              {openwebui::kChatMessage, {"id", "chat_id", "parent_id", "created_at"}}};

bool has_column(engine::Connection& conn, const std::string& schema, const char* table, const char* column) {
    engine::Result r = conn.exec(
        "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2"
        " AND attnum > 0 AND NOT attisdropped",
        {engine::qualified(schema, table), std::string(column)});
    return PQntuples(r.get()) == 1;
}

TargetState refused(std::string what) {
    return {TargetState::refused, std::move(what)};
}

// The first job comes first: chat_message must exist before Open WebUI's later migrations run.
std::string first_job_first(const std::string& found) {
    return found +
           ": run sluice's chat_message job first (sluice migrate --stamp-alembic), then Open WebUI's own "
           "migrations up to " +
           kCurrentMessageRevisionBefore + ": " + upgrade_command() + "; then this command again";
}

// A database at 856c5b02fb54 that lacks a table or column the job reads: not what Open WebUI left.
std::string missing_part(engine::Connection& conn, const std::string& schema) {
    for (const TableColumns& t : kRead) {
        if (!relation_exists(conn, schema, t.table))
            return t.table == std::string(openwebui::kChatMessage)
                       ? first_job_first("alembic_version says " + std::string(kCurrentMessageRevisionBefore) +
                                         " but there is no " + engine::qualified(schema, t.table))
                       : "alembic_version says " + std::string(kCurrentMessageRevisionBefore) + " but there is no " +
                             engine::qualified(schema, t.table) + ": is the schema right (--schema, DATABASE_SCHEMA)?";
        for (const char* column : t.columns)
            if (!has_column(conn, schema, t.table, column))
                return "alembic_version says " + std::string(kCurrentMessageRevisionBefore) + " but " +
                       engine::qualified(schema, t.table) + " has no column " + column +
                       ": this is not the database Open WebUI's migrations leave at that revision; is the schema "
                       "right (--schema, DATABASE_SCHEMA)?";
    }
    return {};
}

}  // namespace

std::string upgrade_command() {
    return std::string(
               "docker run --rm -e DATABASE_URL=... -e WEBUI_SECRET_KEY=... --entrypoint bash "
               "ghcr.io/open-webui/open-webui:v0.11.0 -c 'cd /app/backend/open_webui && alembic upgrade ") +
           kCurrentMessageRevisionBefore + " && alembic current'";
}

TargetState target_state(engine::Connection& conn, const std::string& schema, bool stamp) {
    const std::optional<std::string> revision = alembic_revision(conn, schema);
    if (!revision)
        return refused("there is no readable alembic_version with one row in schema " + engine::quote_ident(schema) +
                       ": --revision " + kCurrentMessageRevisionAfter + " runs on Open WebUI's database at " +
                       kCurrentMessageRevisionBefore + " (is the schema right: --schema, DATABASE_SCHEMA?)");
    if (*revision == kCurrentMessageRevisionAfter)
        return {TargetState::done, "already migrated (alembic " + *revision + ")"};
    if (*revision == openwebui::kRevisionBefore) return refused(first_job_first("this database is at " + *revision));
    if (*revision != kCurrentMessageRevisionBefore)
        return refused("this database is at " + *revision + ": run Open WebUI's own migrations up to " +
                       kCurrentMessageRevisionBefore + " first: " + upgrade_command() + " (--revision " +
                       kCurrentMessageRevisionAfter + " runs only at " + kCurrentMessageRevisionBefore + ")");
    if (std::string missing = missing_part(conn, schema); !missing.empty()) return refused(missing);
    const std::optional<Progress> progress = load_progress(conn, schema);
    if (!stamp && progress && progress->complete() && has_column(conn, schema, openwebui::kChat, "current_message_id"))
        return {TargetState::done,
                "already migrated (chat.current_message_id filled for " + std::to_string(progress->tally.chats) +
                    " chats, " + std::to_string(progress->tally.rejected) + " rejected; alembic_version left at " +
                    *revision + ": --stamp-alembic moves it)"};
    return {};
}

TargetState target_state(const config::JobSettings& cfg) {
    engine::Connection conn(cfg.db_url, "check");
    return target_state(conn, cfg.schema, cfg.stamp_alembic);
}

}  // namespace sluice::stages::current_message
