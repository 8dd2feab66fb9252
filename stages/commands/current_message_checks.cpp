// The revision, then the privileges, on the preflight's session.
#include "stages/commands/current_message_checks.h"

#include <string>

#include "engine/words.h"
#include "stages/current_message/checkpoint.h"
#include "stages/current_message/target_state.h"
#include "stages/openwebui.h"
#include "stages/shared/run_table.h"

namespace sluice::stages {

namespace {

using current_message::TargetState;

bool yes(engine::Connection& conn, const std::string& sql, const std::vector<std::optional<std::string>>& params) {
    engine::Result r = conn.exec(sql, params);
    return PQgetvalue(r.get(), 0, 0)[0] == 't';
}

CheckResult check_revision(engine::Connection& conn, const config::RunConfig& cfg) {
    const TargetState state = current_message::target_state(conn, cfg.schema, cfg.stamp_alembic);
    if (state.kind == TargetState::refused) return {"revision", Verdict::failed, state.what};
    if (state.kind == TargetState::done) return {"revision", Verdict::ok, state.what};
    return {
        "revision", Verdict::ok,
        std::string("alembic_version holds ") + openwebui::kCurrentMessageRevisionBefore +
            ", with chat and chat_message as it implies; " +
            (cfg.stamp_alembic ? "publish moves it to " + cfg.revision : std::string("no --stamp-alembic: not moved"))};
}

// What the phases need, each as "UPDATE on chat (the backfill writes the values)".
std::vector<std::string> missing_privileges(engine::Connection& conn, const config::RunConfig& cfg) {
    auto name = [&](const char* table) { return engine::qualified(cfg.schema, table); };
    auto exists = [&](const char* table) { return yes(conn, "SELECT to_regclass($1) IS NOT NULL", {name(table)}); };
    auto on_table = [&](const char* table, const char* privilege) {
        return !exists(table) || yes(conn, "SELECT has_table_privilege($1, $2)", {name(table), std::string(privilege)});
    };
    const bool has_column =
        yes(conn,
            "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname ="
            " 'current_message_id' AND NOT attisdropped)",
            {name(openwebui::kChat)});
    const bool may_create = yes(conn, "SELECT has_schema_privilege($1, 'CREATE')", {cfg.schema});
    std::vector<std::string> missing;
    if (!has_column && !yes(conn, "SELECT pg_has_role(relowner, 'USAGE') FROM pg_class WHERE oid = to_regclass($1)",
                            {name(openwebui::kChat)}))
        missing.push_back("ownership of chat (the schema phase adds its column current_message_id)");
    if (!on_table(openwebui::kChat, "UPDATE")) missing.push_back("UPDATE on chat (the backfill writes the values)");
    if (!on_table(openwebui::kChatMessage, "SELECT"))
        missing.push_back("SELECT on chat_message (the backfill reads its keys)");
    // CREATE TABLE IF NOT EXISTS asks for CREATE on the schema even when the table is there.
    if (!may_create) missing.push_back("CREATE on schema " + engine::quote_ident(cfg.schema) + " (the job's tables)");
    if (!on_table(current_message::kCheckpointTable, "UPDATE"))
        missing.push_back(std::string("UPDATE on ") + current_message::kCheckpointTable + " (the checkpoint)");
    if (!on_table(kRunTable, "UPDATE")) missing.push_back("UPDATE on sluice_run (migrate replaces its token)");
    if (cfg.stamp_alembic && !on_table(openwebui::kAlembicVersion, "UPDATE"))
        missing.push_back("UPDATE on alembic_version (--stamp-alembic moves the revision)");
    return missing;
}

CheckResult check_privileges(engine::Connection& conn, const config::RunConfig& cfg) {
    const std::vector<std::string> missing = missing_privileges(conn, cfg);
    if (missing.empty()) return {"privileges", Verdict::ok, "this user may do what the phases need"};
    return {"privileges", Verdict::failed,
            "this user lacks " + engine::joined(missing, ", ") +
                " (run sluice as the tables' owner, often the user Open WebUI connects as, or grant them)"};
}

}  // namespace

std::vector<CheckResult> current_message_checks(engine::Connection& conn, const config::RunConfig& cfg) {
    CheckResult revision = check_revision(conn, cfg);
    if (revision.verdict == Verdict::failed)
        return {revision, {"privileges", Verdict::skipped, "needs a database at the job's revision"}};
    return {revision, check_privileges(conn, cfg)};
}

}  // namespace sluice::stages
