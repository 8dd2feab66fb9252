// Schema, indexes and constraint phases, with the exact names and types upstream creates.
#include "stages/phases.h"

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace sluice::stages {

namespace {

struct ColumnSpec {
    const char* name;
    const char* type;  // as format_type() prints it
    bool not_null;
};

// Upstream's chat_message (alembic 8452d01d26d7), in its column order.
const ColumnSpec kColumns[] = {
    {"id", "text", true},           {"chat_id", "text", true},     {"user_id", "text", false},
    {"role", "text", true},         {"parent_id", "text", false},  {"content", "json", false},
    {"output", "json", false},      {"model_id", "text", false},   {"files", "json", false},
    {"sources", "json", false},     {"embeds", "json", false},     {"done", "boolean", false},
    {"status_history", "json", false}, {"error", "json", false},   {"usage", "json", false},
    {"created_at", "bigint", false}, {"updated_at", "bigint", false},
};

struct IndexSpec {
    const char* name;
    const char* columns;
};

const IndexSpec kIndexes[] = {
    {"ix_chat_message_chat_id", "chat_id"},
    {"ix_chat_message_user_id", "user_id"},
    {"ix_chat_message_model_id", "model_id"},
    {"ix_chat_message_created_at", "created_at"},
    {"chat_message_chat_parent_idx", "chat_id, parent_id"},
    {"chat_message_model_created_idx", "model_id, created_at"},
    {"chat_message_user_created_idx", "user_id, created_at"},
};

constexpr const char* kForeignKey = "chat_message_chat_id_fkey";

bool regclass_exists(engine::Connection& conn, const std::string& schema, const char* name) {
    engine::Result r = conn.exec("SELECT to_regclass($1) IS NOT NULL", {engine::qualified(schema, name)});
    return PQgetvalue(r.get(), 0, 0)[0] == 't';
}

std::string create_table_sql(const std::string& schema) {
    std::string sql = "CREATE TABLE IF NOT EXISTS " + engine::qualified(schema, "chat_message") + " (";
    for (const ColumnSpec& c : kColumns) {
        sql += engine::quote_ident(c.name) + " " + c.type + (c.not_null ? " NOT NULL" : "") + ", ";
    }
    return sql + "CONSTRAINT " + engine::quote_ident("chat_message_pkey") + " PRIMARY KEY (id))";
}

// Every way the existing table differs from upstream's, as one readable list.
std::string shape_differences(engine::Connection& conn, const std::string& schema) {
    engine::Result r = conn.exec(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull FROM pg_attribute a"
        " WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        {engine::qualified(schema, "chat_message")});
    std::string diff;
    auto note = [&](const std::string& s) { diff += (diff.empty() ? "" : "; ") + s; };
    std::vector<bool> seen(std::size(kColumns), false);
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        std::string name = PQgetvalue(r.get(), i, 0), type = PQgetvalue(r.get(), i, 1);
        bool found = false;
        for (std::size_t c = 0; c < std::size(kColumns); ++c) {
            if (name != kColumns[c].name) continue;
            found = seen[c] = true;
            if (type != kColumns[c].type) note("column " + name + " is " + type + ", expected " + kColumns[c].type);
        }
        if (!found) note("unexpected column " + name + " " + type);
    }
    for (std::size_t c = 0; c < std::size(kColumns); ++c) {
        if (!seen[c]) note(std::string("missing column ") + kColumns[c].name);
    }
    return diff;
}

}  // namespace

bool chat_message_exists(engine::Connection& conn, const std::string& schema) {
    return regclass_exists(conn, schema, "chat_message");
}

std::string ensure_schema(engine::Connection& conn, const std::string& schema) {
    if (!regclass_exists(conn, schema, "chat")) {
        throw std::runtime_error("there is no table " + engine::qualified(schema, "chat") +
                                 ": is this Open WebUI's database, and is the schema right (--schema, DATABASE_SCHEMA)?");
    }
    if (!chat_message_exists(conn, schema)) {
        conn.exec(create_table_sql(schema));
        return "created " + engine::qualified(schema, "chat_message") + " with its primary key";
    }
    std::string diff = shape_differences(conn, schema);
    if (!diff.empty()) {
        throw std::runtime_error(engine::qualified(schema, "chat_message") + " exists but is not the table Open WebUI's "
                                 "migration creates (" + diff + "); rename or drop it, then run sluice again");
    }
    return engine::qualified(schema, "chat_message") + " already exists with the expected columns";
}

std::string build_indexes(const std::string& conninfo, const std::string& schema, unsigned connections) {
    engine::Connection probe(conninfo, "indexes");
    std::vector<const IndexSpec*> missing;
    for (const IndexSpec& ix : kIndexes) {
        if (!regclass_exists(probe, schema, ix.name)) missing.push_back(&ix);
    }
    if (missing.empty()) return "all 7 indexes already exist";
    // Each index build is one backend's work: several connections build several at once.
    std::atomic<std::size_t> next{0};
    std::mutex error_mutex;
    std::string first_error;
    auto worker = [&](unsigned n) {
        try {
            engine::Connection conn(conninfo, "index connection " + std::to_string(n));
            for (std::size_t i; (i = next++) < missing.size();) {
                conn.exec("CREATE INDEX IF NOT EXISTS " + engine::quote_ident(missing[i]->name) + " ON " +
                          engine::qualified(schema, "chat_message") + " (" + missing[i]->columns + ")");
            }
        } catch (const std::exception& e) {
            std::lock_guard<std::mutex> lock(error_mutex);
            if (first_error.empty()) first_error = e.what();
        }
    };
    std::vector<std::thread> threads;
    unsigned n = std::max(1u, std::min<unsigned>(connections, static_cast<unsigned>(missing.size())));
    for (unsigned i = 0; i < n; ++i) threads.emplace_back(worker, i + 1);
    for (auto& t : threads) t.join();
    if (!first_error.empty()) throw std::runtime_error(first_error);
    return "built " + std::to_string(missing.size()) + " of 7 indexes over " + std::to_string(n) + " connection(s)";
}

std::string ensure_foreign_key(engine::Connection& conn, const std::string& schema) {
    std::string table = engine::qualified(schema, "chat_message");
    engine::Result fk = conn.exec("SELECT convalidated FROM pg_constraint WHERE conrelid = to_regclass($1) AND conname = $2",
                                  {table, std::string(kForeignKey)});
    if (PQntuples(fk.get()) == 1 && PQgetvalue(fk.get(), 0, 0)[0] == 't') return "the foreign key already exists";
    if (PQntuples(fk.get()) == 0) {
        // NOT VALID: added at once, without a scan; rows written from here on are checked.
        conn.exec("ALTER TABLE " + table + " ADD CONSTRAINT " + engine::quote_ident(kForeignKey) +
                  " FOREIGN KEY (chat_id) REFERENCES " + engine::qualified(schema, "chat") +
                  " (id) ON DELETE CASCADE NOT VALID");
    }
    engine::Result deleted = conn.exec("DELETE FROM " + table + " m WHERE NOT EXISTS (SELECT 1 FROM " +
                                       engine::qualified(schema, "chat") + " c WHERE c.id = m.chat_id)");
    conn.exec("ALTER TABLE " + table + " VALIDATE CONSTRAINT " + engine::quote_ident(kForeignKey));
    return "added and validated the foreign key; deleted " + std::string(PQcmdTuples(deleted.get())) +
           " rows whose chat no longer exists";
}

namespace {

constexpr const char* kRevisionBefore = "374d2f66af06";
constexpr const char* kRevisionAfter = "8452d01d26d7";

// What is still missing before the database can be called migrated; empty when nothing is.
std::string unfinished_work(engine::Connection& conn, const std::string& schema) {
    if (!chat_message_exists(conn, schema)) return "chat_message does not exist";
    for (const IndexSpec& ix : kIndexes) {
        if (!regclass_exists(conn, schema, ix.name)) return std::string("index ") + ix.name + " is missing";
    }
    engine::Result fk = conn.exec("SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass($1) AND conname = $2"
                                  " AND convalidated",
                                  {engine::qualified(schema, "chat_message"), std::string(kForeignKey)});
    if (PQntuples(fk.get()) == 0) return "the foreign key is missing or not validated";
    if (!regclass_exists(conn, schema, "sluice_checkpoint")) return "the backfill has not run";
    engine::Result cp = conn.exec("SELECT complete FROM " + engine::qualified(schema, "sluice_checkpoint") +
                                  " WHERE job = 'openwebui_chat_message'");
    if (PQntuples(cp.get()) == 0 || PQgetvalue(cp.get(), 0, 0)[0] != 't') return "the backfill is not complete";
    return {};
}

}  // namespace

std::string stamp_alembic(engine::Connection& conn, const std::string& schema) {
    std::string table = engine::qualified(schema, "alembic_version");
    if (!regclass_exists(conn, schema, "alembic_version")) {
        throw std::runtime_error("--stamp-alembic: there is no table " + table + "; nothing to stamp");
    }
    conn.exec("BEGIN");
    try {
        engine::Result v = conn.exec("SELECT version_num FROM " + table + " FOR UPDATE");
        std::string found = PQntuples(v.get()) == 1 ? PQgetvalue(v.get(), 0, 0) : "";
        if (found == kRevisionAfter) {
            conn.exec("ROLLBACK");
            return std::string("alembic_version already holds ") + kRevisionAfter;
        }
        if (PQntuples(v.get()) != 1 || found != kRevisionBefore) {
            throw std::runtime_error(
                "--stamp-alembic: alembic_version holds " +
                (PQntuples(v.get()) == 1 ? "'" + found + "'" : std::to_string(PQntuples(v.get())) + " rows") +
                ", not " + kRevisionBefore + " (the revision before chat_message); sluice leaves it alone: "
                "let Open WebUI's own migrations bring it there, or run without --stamp-alembic");
        }
        if (std::string missing = unfinished_work(conn, schema); !missing.empty()) {
            throw std::runtime_error("--stamp-alembic: not stamping, " + missing +
                                     "; run sluice migrate with all phases first");
        }
        conn.exec("UPDATE " + table + " SET version_num = $1", {std::string(kRevisionAfter)});
        conn.exec("COMMIT");
    } catch (...) {
        if (PQtransactionStatus(conn.raw()) != PQTRANS_IDLE) PQclear(PQexec(conn.raw(), "ROLLBACK"));
        throw;
    }
    return std::string("alembic_version moved from ") + kRevisionBefore + " to " + kRevisionAfter;
}

}  // namespace sluice::stages
