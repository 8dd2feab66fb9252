// The preflight's privileges check: each phase's statements, and what PostgreSQL asks of them,
// against what the user may do; one failed result lists every privilege missing and why.
#include <algorithm>
#include <iterator>

#include "engine/words.h"
#include "stages/chat_message/checkpoint.h"
#include "stages/commands/preflight_facts.h"
#include "stages/shared/app_owner.h"
#include "stages/shared/catalog.h"
#include "stages/shared/run_table.h"

namespace sluice::stages::preflight_checks {

using engine::joined;

namespace {

// What the user lacks, each privilege once with every reason it is needed, in the order found.
struct Privileges {
    Connection& conn;
    const Facts& facts;
    std::vector<std::pair<std::string, std::vector<std::string>>> missing;

    void lack(const std::string& what, const std::string& why) {
        auto it = std::find_if(missing.begin(), missing.end(), [&](const auto& m) { return m.first == what; });
        if (it == missing.end()) it = missing.insert(missing.end(), {what, {}});
        if (std::find(it->second.begin(), it->second.end(), why) == it->second.end()) it->second.push_back(why);
    }
    void on_schema(const char* privilege, const std::string& why) {
        if (!yes(conn, "SELECT has_schema_privilege($1, $2)", {facts.cfg.schema, std::string(privilege)}))
            lack(std::string(privilege) + " on schema " + engine::quote_ident(facts.cfg.schema), why);
    }
    void on_table(const std::string& table, const char* privilege, const std::string& why) {
        if (!yes(conn, "SELECT has_table_privilege($1, $2)", {table, std::string(privilege)}))
            lack(std::string(privilege) + " on " + table, why);
    }
    // Ownership, or membership of the owning role, is what ALTER, CREATE INDEX, RENAME and DROP need.
    void owner_of(const std::string& table, const std::string& why) {
        engine::Result r = conn.exec(
            "SELECT pg_has_role(relowner, 'USAGE'), pg_get_userbyid(relowner) FROM pg_class"
            " WHERE oid = to_regclass($1)",
            {table});
        if (PQntuples(r.get()) == 1 && PQgetvalue(r.get(), 0, 0)[0] != 't')
            lack("ownership of " + table + " (owned by " + engine::quote_ident(PQgetvalue(r.get(), 0, 1)) + ")", why);
    }
    bool exists(const char* table) { return relation_exists(conn, facts.cfg.schema, table); }
    // CREATE on the schema for the role that creates: the app's, when sluice creates as it.
    void create_on_schema(const std::optional<AppOwner>& owner, const std::string& why) {
        if (!owner || !owner->acts()) return on_schema("CREATE", why);
        const std::string schema = engine::quote_ident(facts.cfg.schema), role = engine::quote_ident(owner->role);
        const std::string fix = "GRANT CREATE ON SCHEMA " + schema + " TO " + role;
        if (!owner->may_create)
            lack("CREATE on schema " + schema + " for " + role + ", as which sluice creates its tables (" + fix + ")",
                 why);
    }
    // What becomes chat_message must be a table Open WebUI's role may alter (stages/shared/app_owner.h).
    void serves_app(const std::optional<AppOwner>& owner, const std::string& why) {
        if (!owner || owner->serves_app()) return;
        const std::string role = engine::quote_ident(owner->role), user = engine::quote_ident(facts.user);
        const std::string fix = "GRANT " + role + " TO " + user + ", or run sluice as " + role;
        lack("membership in " + role + ", the owner of chat, as which sluice creates what Open WebUI alters (" + fix +
                 ")",
             why);
    }
    std::string text() const {
        std::vector<std::string> parts;
        for (const auto& [what, why] : missing)
            parts.push_back(what + ": " + joined(why, ", "));
        return joined(parts, "; ");
    }
};

bool indexes_pending(Connection& conn, const Target& target) {
    std::vector<std::string> names;
    for (const openwebui::IndexSpec& index : openwebui::kIndexes)
        names.emplace_back(index.name);
    const std::string valid =
        cell(conn,
             "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
             " WHERE i.indrelid = to_regclass($1) AND i.indisvalid AND c.relname = ANY($2::text[])",
             {target.qualified(), engine::text_array(names)});
    return valid != std::to_string(std::size(openwebui::kIndexes));
}

bool foreign_key_pending(Connection& conn, const Target& target) {
    return !yes(conn,
                "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass($1) AND conname = $2"
                " AND convalidated)",
                {target.qualified(), std::string(openwebui::kForeignKey)});
}

}  // namespace

// Each phase's statements, and what PostgreSQL asks of them (CREATE TABLE IF NOT EXISTS needs
// CREATE on the schema even when the table exists; ALTER TABLE needs ownership).
CheckResult check_privileges(Connection& conn, const Facts& facts) {
    const config::RunConfig& cfg = facts.cfg;
    Privileges p{conn, facts, {}};
    const std::optional<Target> target = facts.target();
    p.on_schema("USAGE", "every phase");
    const bool replaces_build = cfg.runs(Phase::schema) && facts.published && facts.building;
    const std::optional<AppOwner> owner = app_owner(conn, cfg.schema);
    if (cfg.runs(Phase::schema) && !target) {
        p.create_on_schema(owner, "the schema phase creates the build table");
        p.serves_app(owner, "the schema phase creates the build table, which becomes chat_message");
    }
    if (owner && cfg.runs(Phase::publish) && facts.building && !facts.published &&
        !yes(conn, "SELECT pg_has_role($2::regrole, relowner, 'USAGE') FROM pg_class WHERE oid = to_regclass($1)",
             {facts.name(kBuildTable), engine::quote_ident(owner->role)}))
        p.serves_app(owner, "publish makes the build table, another role's, chat_message");
    // CREATE TABLE IF NOT EXISTS asks for CREATE on the schema even when the table is there.
    if (cfg.runs(Phase::backfill) || replaces_build)
        p.create_on_schema(owner, "the backfill creates its checkpoint and rejects tables");
    if (replaces_build) p.owner_of(facts.name(kBuildTable), "the schema phase drops it");
    if (cfg.runs(Phase::backfill) || replaces_build) {
        if (p.exists("sluice_checkpoint")) p.owner_of(facts.name("sluice_checkpoint"), "the backfill alters it");
        if (p.exists("sluice_reject")) p.on_table(facts.name("sluice_reject"), "INSERT", "the backfill adds rejects");
    }
    // Every migrate takes over sluice_run's token (engine/run_fence.h), creating the table when absent.
    if (!p.exists(kRunTable))
        p.create_on_schema(owner, "migrate creates its table sluice_run");
    else
        p.on_table(facts.name(kRunTable), "UPDATE", "migrate replaces the token in sluice_run");
    if (cfg.runs(Phase::backfill) && target) {
        p.on_table(target->qualified(), "SELECT", "the backfill reads the rows present");
        p.on_table(target->qualified(), "INSERT", "the backfill writes rows");
    }
    if (cfg.runs(Phase::indexes) && target && indexes_pending(conn, *target))
        p.owner_of(target->qualified(), "the indexes phase builds its indexes");
    if (cfg.runs(Phase::constraints) && (!target || foreign_key_pending(conn, *target))) {
        p.on_table(facts.chat_name(), "REFERENCES", "the constraints phase adds a foreign key to it");
        if (target) p.owner_of(target->qualified(), "the constraints phase adds its foreign key");
    }
    if (cfg.runs(Phase::publish) && facts.building && !facts.published)
        p.owner_of(facts.name(kBuildTable), "publish renames it");
    if (cfg.stamp_alembic && p.exists(openwebui::kAlembicVersion)) {
        p.on_table(facts.name(openwebui::kAlembicVersion), "SELECT", "--stamp-alembic reads the revision");
        p.on_table(facts.name(openwebui::kAlembicVersion), "UPDATE", "--stamp-alembic moves the revision");
    }
    if (p.missing.empty())
        return result(
            "privileges", Verdict::ok,
            "user " + engine::quote_ident(facts.user) + " may do what the phases need" +
                (owner && owner->acts() ? "; it creates sluice's tables as " + engine::quote_ident(owner->role) +
                                              ", the owner of chat, whose chat_message will be"
                                        : ""));
    return result("privileges", Verdict::failed,
                  "user " + engine::quote_ident(facts.user) + " lacks " + p.text() +
                      " (run sluice as the tables' owner, often the user Open WebUI connects as, or grant them)");
}

}  // namespace sluice::stages::preflight_checks
