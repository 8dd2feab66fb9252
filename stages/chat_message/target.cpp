// The target table: upstream's columns, the shape check, the build table and its placeholder.
#include "stages/chat_message/target.h"

#include <functional>
#include <iterator>
#include <stdexcept>
#include <vector>

#include "stages/chat_message/checkpoint.h"
#include "stages/shared/app_owner.h"
#include "stages/shared/catalog.h"
#include "stages/shared/run_table.h"

namespace sluice::stages {

namespace {

using openwebui::ColumnSpec;
using openwebui::kColumns;
using openwebui::kLaterColumns;

// The build table starts without its primary key: the backfill loads it faster so, and adds the
// key when it is complete (a duplicate would then fail loudly).
std::string create_table_sql(const Target& t) {
    std::string sql = "CREATE TABLE " + t.qualified() + " (";
    for (const ColumnSpec& c : kColumns) {
        sql += engine::quote_ident(c.name) + " " + c.type + (c.not_null ? " NOT NULL" : "") + ", ";
    }
    sql.resize(sql.size() - 2);
    return sql + ")";
}

bool is_later_column(const std::string& name) {
    for (const char* later : kLaterColumns) {
        if (name == later) return true;
    }
    return false;
}

// Every way the table differs from upstream's, as one readable list; the later migrations'
// columns go to `later` instead.
std::string shape_differences(engine::Connection& conn, const Target& t, std::string& later) {
    engine::Result r = conn.exec(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), EXISTS (SELECT 1 FROM pg_constraint k"
        " WHERE k.conrelid = a.attrelid AND k.contype = 'p' AND k.conkey = ARRAY[a.attnum])"
        " FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped"
        " ORDER BY a.attnum",
        {t.qualified()});
    std::string diff;
    auto note = [&](const std::string& s) { diff += (diff.empty() ? "" : "; ") + s; };
    std::vector<bool> seen(std::size(kColumns), false);
    bool keyed = false;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        std::string name = PQgetvalue(r.get(), i, 0), type = PQgetvalue(r.get(), i, 1);
        bool found = false;
        for (std::size_t c = 0; c < std::size(kColumns); ++c) {
            if (name != kColumns[c].name) continue;
            found = seen[c] = true;
            if (type != kColumns[c].type) note("column " + name + " is " + type + ", expected " + kColumns[c].type);
            if (c == 0) keyed = PQgetvalue(r.get(), i, 2)[0] == 't';
        }
        if (found) continue;
        if (is_later_column(name))
            later += (later.empty() ? "" : ", ") + name;
        else
            note("unexpected column " + name + " " + type);
    }
    for (std::size_t c = 0; c < std::size(kColumns); ++c) {
        if (!seen[c]) note(std::string("missing column ") + kColumns[c].name);
    }
    if (seen[0] && !keyed && !t.build()) {  // the build table gets its key at the end of the backfill
        note("no primary key on id (a restore without its post-data section? add it with ALTER TABLE " + t.qualified() +
             " ADD CONSTRAINT " + openwebui::kPrimaryKey + " PRIMARY KEY (id), after removing any duplicate ids)");
    }
    return diff;
}

void check_shape(engine::Connection& conn, const Target& t) {
    if (std::string problem = shape_problem(conn, t); !problem.empty()) throw std::runtime_error(problem);
}

void require_chat(engine::Connection& conn, const std::string& schema) {
    if (!relation_exists(conn, schema, openwebui::kChat)) {
        throw std::runtime_error(
            "there is no table " + engine::qualified(schema, openwebui::kChat) +
            ": is this Open WebUI's database, and is the schema right (--schema, DATABASE_SCHEMA)?");
    }
}

// The placeholder's relkind ('v') and comment say it is sluice's, not the operator's.
constexpr const char* kPlaceholderComment = "sluice: holds this index name until chat_message is published";

bool is_placeholder(engine::Connection& conn, const std::string& schema, const std::string& name) {
    engine::Result r = conn.exec(
        "SELECT c.relkind = 'v' AND obj_description(c.oid, 'pg_class') = $2 FROM pg_class c"
        " WHERE c.oid = to_regclass($1)",
        {engine::qualified(schema, name), std::string(kPlaceholderComment)});
    return PQntuples(r.get()) == 1 && PQgetvalue(r.get(), 0, 0)[0] == 't';
}

// sluice's own relations that an earlier run (of a sluice that created them as itself) left
// owned by another role than the app's: given to the app's role where the user may (stages/shared/app_owner.h).
std::string give_own_tables_to_app(engine::Connection& conn, const std::string& schema) {
    std::string said;
    for (const char* name : {kBuildTable, kReservedIndex, "sluice_checkpoint", "sluice_reject", kRunTable}) {
        if (std::string(name) == kReservedIndex && !is_placeholder(conn, schema, name)) continue;
        const std::string gave = give_to_app_owner(conn, schema, engine::qualified(schema, name));
        if (!gave.empty()) said += "; " + gave;
    }
    return said;
}

}  // namespace

std::string shape_problem(engine::Connection& conn, const Target& t) {
    std::string later;
    std::string diff = shape_differences(conn, t, later);
    if (!later.empty()) {
        return t.qualified() + " already has the columns Open WebUI's later migrations add (" + later +
               "): Open WebUI has migrated this database past revision " + std::string(openwebui::kRevisionAfter) +
               " itself and the table is in "
               "use, so sluice leaves it alone; there is nothing to migrate (sluice verify compares it with chat)";
    }
    if (!diff.empty()) {
        return t.qualified() + " exists but is not the table Open WebUI's migration creates (" + diff +
               "); sluice has changed nothing: fix the table, then run sluice again";
    }
    return {};
}

bool migrated_shape(engine::Connection& conn, const Target& t) {
    std::string later;
    return shape_differences(conn, t, later).empty();
}

bool has_primary_key(engine::Connection& conn, const Target& t) {
    engine::Result r = conn.exec(
        "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass($1)"
        " AND contype = 'p')",
        {t.qualified()});
    return PQgetvalue(r.get(), 0, 0)[0] == 't';
}

std::string drop_build_table(engine::Connection& conn, const std::string& schema) {
    std::string dropped;
    if (relation_exists(conn, schema, kBuildTable)) {
        conn.exec("DROP TABLE " + engine::qualified(schema, kBuildTable));
        dropped = engine::qualified(schema, kBuildTable);
    }
    if (is_placeholder(conn, schema, kReservedIndex)) {
        conn.exec("DROP VIEW " + engine::qualified(schema, kReservedIndex));
        dropped += (dropped.empty() ? "" : " and ") + std::string("the placeholder view ") + kReservedIndex;
    }
    return dropped;
}

Target prepare_target(engine::Connection& conn, const std::string& schema, std::string& what) {
    require_chat(conn, schema);
    const std::string given = give_own_tables_to_app(conn, schema);
    Target in_place{schema, kChatMessage};
    if (relation_exists(conn, schema, kChatMessage)) {
        check_shape(conn, in_place);
        what = in_place.qualified() + " already exists with the expected columns: completing it in place";
        if (relation_exists(conn, schema, kBuildTable)) {
            // Its rows and rejects described the build table: the backfill derives them again.
            reset_backfill(conn, schema);
            std::string dropped;
            engine::in_transaction(conn, [&] { dropped = drop_build_table(conn, schema); });
            what += "; dropped " + dropped + ", which it replaces";
        }
        what += given;
        return in_place;
    }
    Target build{schema, kBuildTable};
    if (relation_exists(conn, schema, kBuildTable)) {
        check_shape(conn, build);
        what =
            "continuing sluice's build table " + build.qualified() + " (published as chat_message at the end)" + given;
        return build;
    }
    std::string as;
    engine::in_transaction(conn, [&] {
        as = create_as_app_owner(conn, schema);  // chat_message is to be the app's, to alter in its later migrations
        conn.exec(create_table_sql(build));
        if (!relation_exists(conn, schema, kReservedIndex)) {
            const std::string view = engine::qualified(schema, kReservedIndex);
            conn.exec("CREATE VIEW " + view +
                      " AS SELECT 'reserved by sluice until chat_message is published'::text"
                      " AS note");
            conn.exec("COMMENT ON VIEW " + view + " IS '" + kPlaceholderComment + "'");
        }
    });
    what = "created sluice's build table " + build.qualified() +
           (as.empty() ? "" : " as " + as + ", the owner of chat, whose chat_message will be") +
           "; chat_message appears when it is complete (publish phase)" + given;
    return build;
}

Target current_target(engine::Connection& conn, const std::string& schema) {
    require_chat(conn, schema);
    const bool published = relation_exists(conn, schema, kChatMessage);
    const bool building = relation_exists(conn, schema, kBuildTable);
    if (published && building) {
        throw std::runtime_error(
            engine::qualified(schema, kChatMessage) + " appeared while sluice was building it as " +
            engine::qualified(schema, kBuildTable) +
            " (was Open WebUI started, or a backup restored?); sluice stops "
            "before publishing: stop Open WebUI, then run sluice migrate again: it completes that table in place "
            "and drops its own");
    }
    if (!published && !building) {
        throw std::runtime_error("neither " + engine::qualified(schema, kChatMessage) + " nor sluice's build table " +
                                 engine::qualified(schema, kBuildTable) +
                                 " exists: run the schema phase first (--phases schema,...)");
    }
    Target t{schema, published ? kChatMessage : kBuildTable};
    check_shape(conn, t);
    return t;
}

}  // namespace sluice::stages
