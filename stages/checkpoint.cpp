// The checkpoint row: created, read and upserted with bound parameters.
#include "stages/checkpoint.h"

#include <cstdlib>

namespace sluice::stages {

namespace {

constexpr const char* kTable = "sluice_checkpoint";
constexpr const char* kJob = "openwebui_chat_message";

std::string skipped_array(const std::array<std::uint64_t, kSkipRules>& skipped) {
    std::string out = "{";
    for (std::size_t i = 0; i < skipped.size(); ++i) out += (i ? "," : "") + std::to_string(skipped[i]);
    return out + "}";
}

std::uint64_t number(const PGresult* r, int col) { return std::strtoull(PQgetvalue(r, 0, col), nullptr, 10); }

}  // namespace

void create_checkpoint_table(engine::Connection& conn, const std::string& schema) {
    conn.exec("CREATE TABLE IF NOT EXISTS " + engine::qualified(schema, kTable) +
              " (job text PRIMARY KEY, last_chat_id text, chats bigint NOT NULL, messages bigint NOT NULL,"
              " present bigint NOT NULL, rejected bigint NOT NULL, skipped bigint[] NOT NULL,"
              " bytes bigint NOT NULL, complete boolean NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())");
    // Checkpoints older than the build table have no target: theirs was chat_message.
    conn.exec("ALTER TABLE " + engine::qualified(schema, kTable) +
              " ADD COLUMN IF NOT EXISTS target text NOT NULL DEFAULT 'chat_message'");
    reject_table(schema).create(conn);
}

engine::RejectTable reject_table(const std::string& schema) {
    return engine::RejectTable(schema, "sluice_reject", "id", "chat_id");
}

void reset_backfill(engine::Connection& conn, const std::string& schema) {
    create_checkpoint_table(conn, schema);
    conn.exec("BEGIN");
    try {
        conn.exec("DELETE FROM " + engine::qualified(schema, kTable) + " WHERE job = $1", {std::string(kJob)});
        reject_table(schema).clear(conn);
        conn.exec("COMMIT");
    } catch (...) {
        PQclear(PQexec(conn.raw(), "ROLLBACK"));
        throw;
    }
}

void count_moved_to_rejects(engine::Connection& conn, const std::string& schema, std::uint64_t rows) {
    conn.exec("UPDATE " + engine::qualified(schema, kTable) + " SET messages = messages - $2, rejected = rejected + $2"
              " WHERE job = $1", {std::string(kJob), std::to_string(rows)});
}

void retarget_checkpoint(engine::Connection& conn, const std::string& schema, const std::string& table) {
    engine::Result exists = conn.exec("SELECT to_regclass($1) IS NOT NULL", {engine::qualified(schema, kTable)});
    if (PQgetvalue(exists.get(), 0, 0)[0] != 't') return;
    conn.exec("UPDATE " + engine::qualified(schema, kTable) + " SET target = $2 WHERE job = $1",
              {std::string(kJob), table});
}

std::optional<Checkpoint> load_checkpoint(engine::Connection& conn, const std::string& schema) {
    engine::Result exists = conn.exec("SELECT to_regclass($1) IS NOT NULL", {engine::qualified(schema, kTable)});
    if (PQgetvalue(exists.get(), 0, 0)[0] != 't') return std::nullopt;
    engine::Result has_target = conn.exec("SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1)"
                                          " AND attname = 'target' AND NOT attisdropped)",
                                          {engine::qualified(schema, kTable)});
    const bool targeted = PQgetvalue(has_target.get(), 0, 0)[0] == 't';
    engine::Result r = conn.exec("SELECT last_chat_id, chats, messages, present, rejected, skipped, bytes, complete, " +
                                 std::string(targeted ? "target" : "'chat_message'") + " FROM " +
                                 engine::qualified(schema, kTable) + " WHERE job = $1",
                                 {std::string(kJob)});
    if (PQntuples(r.get()) == 0) return std::nullopt;
    Checkpoint cp;
    if (!PQgetisnull(r.get(), 0, 0)) cp.last_chat_id = PQgetvalue(r.get(), 0, 0);
    cp.chats = number(r.get(), 1);
    cp.messages = number(r.get(), 2);
    cp.present = number(r.get(), 3);
    cp.rejected = number(r.get(), 4);
    const char* p = PQgetvalue(r.get(), 0, 5);  // "{1,2,...}"
    for (std::size_t i = 0; i < kSkipRules && *p; ++i) {
        while (*p && (*p < '0' || *p > '9')) ++p;
        cp.skipped[i] = std::strtoull(p, const_cast<char**>(&p), 10);
    }
    cp.bytes = number(r.get(), 6);
    cp.complete = PQgetvalue(r.get(), 0, 7)[0] == 't';
    cp.target = PQgetvalue(r.get(), 0, 8);
    return cp;
}

void save_checkpoint(engine::Connection& conn, const std::string& schema, const Checkpoint& cp) {
    conn.exec("INSERT INTO " + engine::qualified(schema, kTable) +
                  " (job, last_chat_id, chats, messages, present, rejected, skipped, bytes, complete, target, updated_at)"
                  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now()) ON CONFLICT (job) DO UPDATE SET"
                  " last_chat_id = EXCLUDED.last_chat_id, chats = EXCLUDED.chats, messages = EXCLUDED.messages,"
                  " present = EXCLUDED.present, rejected = EXCLUDED.rejected, skipped = EXCLUDED.skipped,"
                  " bytes = EXCLUDED.bytes, complete = EXCLUDED.complete, target = EXCLUDED.target, updated_at = now()",
              {std::string(kJob), cp.last_chat_id, std::to_string(cp.chats), std::to_string(cp.messages),
               std::to_string(cp.present), std::to_string(cp.rejected), skipped_array(cp.skipped),
               std::to_string(cp.bytes), std::string(cp.complete ? "true" : "false"), cp.target});
}

}  // namespace sluice::stages
