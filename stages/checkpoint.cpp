// The checkpoint rows: created, read and written with bound parameters, one row per range.
#include "stages/checkpoint.h"

#include <cstdlib>
#include <functional>
#include <stdexcept>

#include "stages/app_owner.h"

namespace sluice::stages {

namespace {

constexpr const char* kTable = "sluice_checkpoint";
constexpr const char* kJob = "openwebui_chat_message";

std::string skipped_array(const std::array<std::uint64_t, kSkipRules>& skipped) {
    std::string out = "{";
    for (std::size_t i = 0; i < skipped.size(); ++i) out += (i ? "," : "") + std::to_string(skipped[i]);
    return out + "}";
}

std::uint64_t number(const PGresult* r, int row, int col) { return std::strtoull(PQgetvalue(r, row, col), nullptr, 10); }

std::optional<std::string> text_or_null(const PGresult* r, int row, int col) {
    if (PQgetisnull(r, row, col)) return std::nullopt;
    return std::string(PQgetvalue(r, row, col));
}

bool table_exists(engine::Connection& conn, const std::string& schema) {
    engine::Result r = conn.exec("SELECT to_regclass($1) IS NOT NULL", {engine::qualified(schema, kTable)});
    return PQgetvalue(r.get(), 0, 0)[0] == 't';
}

bool has_column(engine::Connection& conn, const std::string& schema, const char* column) {
    engine::Result r = conn.exec("SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1)"
                                 " AND attname = $2 AND NOT attisdropped)",
                                 {engine::qualified(schema, kTable), std::string(column)});
    return PQgetvalue(r.get(), 0, 0)[0] == 't';
}

// An earlier layout held one row per job, keyed on job alone: that row becomes range 0, which
// covers every chat (no bounds).
void upgrade_layout(engine::Connection& conn, const std::string& schema) {
    const std::string table = engine::qualified(schema, kTable);
    engine::in_transaction(conn, [&] {
        conn.exec("ALTER TABLE " + table +
                  " ADD COLUMN IF NOT EXISTS target text NOT NULL DEFAULT 'chat_message',"
                  " ADD COLUMN IF NOT EXISTS range_no integer NOT NULL DEFAULT 0,"
                  " ADD COLUMN IF NOT EXISTS lower_id text, ADD COLUMN IF NOT EXISTS upper_id text,"
                  " ADD COLUMN IF NOT EXISTS planned_chats bigint NOT NULL DEFAULT 0");
        engine::Result key = conn.exec("SELECT conname FROM pg_constraint WHERE conrelid = to_regclass($1)"
                                       " AND contype = 'p' AND cardinality(conkey) = 1",
                                       {table});
        if (PQntuples(key.get()) == 1) {
            conn.exec("ALTER TABLE " + table + " DROP CONSTRAINT " + engine::quote_ident(PQgetvalue(key.get(), 0, 0)) +
                      ", ADD PRIMARY KEY (job, range_no)");
        }
    });
}

}  // namespace

void BackfillTally::add(const BackfillTally& other) {
    chats += other.chats;
    messages += other.messages;
    present += other.present;
    rejected += other.rejected;
    for (std::size_t i = 0; i < kSkipRules; ++i) skipped[i] += other.skipped[i];
    bytes += other.bytes;
}

void create_checkpoint_table(engine::Connection& conn, const std::string& schema) {
    if (table_exists(conn, schema) && !has_column(conn, schema, "planned_chats")) upgrade_layout(conn, schema);
    engine::in_transaction(conn, [&] {
        create_as_app_owner(conn, schema);  // as the build table: a run resumed as the app's role may use them
        if (!table_exists(conn, schema)) {
            conn.exec(
                "CREATE TABLE IF NOT EXISTS " + engine::qualified(schema, kTable) +
                " (job text NOT NULL, range_no integer NOT NULL, lower_id text, upper_id text, last_chat_id text,"
                " chats bigint NOT NULL, messages bigint NOT NULL, present bigint NOT NULL, rejected bigint NOT NULL,"
                " skipped bigint[] NOT NULL, bytes bigint NOT NULL, complete boolean NOT NULL, target text NOT NULL,"
                " planned_chats bigint NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL DEFAULT now(),"
                " PRIMARY KEY (job, range_no))");
        }
        reject_table(schema).create(conn);
    });
}

engine::RejectTable reject_table(const std::string& schema) {
    return engine::RejectTable(schema, "sluice_reject", "id", "chat_id");
}

void reset_backfill(engine::Connection& conn, const std::string& schema) {
    create_checkpoint_table(conn, schema);
    engine::in_transaction(conn, [&] {
        conn.exec("DELETE FROM " + engine::qualified(schema, kTable) + " WHERE job = $1", {std::string(kJob)});
        reject_table(schema).clear(conn);
    });
}

void save_plan(engine::Connection& conn, const std::string& schema, const std::string& target,
               const std::vector<ChatRange>& ranges) {
    engine::in_transaction(conn, [&] {
        conn.exec("DELETE FROM " + engine::qualified(schema, kTable) + " WHERE job = $1", {std::string(kJob)});
        for (const ChatRange& r : ranges) {
            conn.exec("INSERT INTO " + engine::qualified(schema, kTable) +
                          " (job, range_no, lower_id, upper_id, last_chat_id, chats, messages, present, rejected,"
                          " skipped, bytes, complete, target, planned_chats)"
                          " VALUES ($1, $2, $3, $4, NULL, 0, 0, 0, 0, $5, 0, false, $6, $7)",
                      {std::string(kJob), std::to_string(r.no), r.lower, r.upper, skipped_array({}), target,
                       std::to_string(r.planned_chats)});
        }
    });
}

std::vector<ChatRange> load_ranges(engine::Connection& conn, const std::string& schema) {
    if (!table_exists(conn, schema)) return {};
    // An earlier layout has neither ranges nor (the oldest) a target: its one row is the whole table.
    const bool ranged = has_column(conn, schema, "planned_chats");
    engine::Result r = conn.exec(
        std::string("SELECT ") + (ranged ? "range_no, lower_id, upper_id" : "0, NULL, NULL") +
            ", last_chat_id, chats, messages, present, rejected, skipped, bytes, complete, " +
            (ranged ? "planned_chats" : "0") + " FROM " + engine::qualified(schema, kTable) + " WHERE job = $1" +
            (ranged ? " ORDER BY range_no" : ""),
        {std::string(kJob)});
    std::vector<ChatRange> ranges;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        ChatRange& c = ranges.emplace_back();
        c.no = static_cast<int>(number(r.get(), i, 0));
        c.lower = text_or_null(r.get(), i, 1);
        c.upper = text_or_null(r.get(), i, 2);
        c.last_chat_id = text_or_null(r.get(), i, 3);
        c.chats = number(r.get(), i, 4);
        c.messages = number(r.get(), i, 5);
        c.present = number(r.get(), i, 6);
        c.rejected = number(r.get(), i, 7);
        const char* p = PQgetvalue(r.get(), i, 8);  // "{1,2,...}"
        for (std::size_t k = 0; k < kSkipRules && *p; ++k) {
            while (*p && (*p < '0' || *p > '9')) ++p;
            c.skipped[k] = std::strtoull(p, const_cast<char**>(&p), 10);
        }
        c.bytes = number(r.get(), i, 9);
        c.complete = PQgetvalue(r.get(), i, 10)[0] == 't';
        c.planned_chats = number(r.get(), i, 11);
    }
    return ranges;
}

namespace {

// One message of each chat counted anew, in the range that holds the chat.
void recount(engine::Connection& conn, const std::string& schema, const std::vector<std::string>& chat_ids,
             const char* set) {
    for (const std::string& chat_id : chat_ids) {
        conn.exec("UPDATE " + engine::qualified(schema, kTable) + " SET " + set +
                      " WHERE job = $1 AND (lower_id IS NULL OR $2 > lower_id)"
                      " AND (upper_id IS NULL OR $2 <= upper_id)",
                  {std::string(kJob), chat_id});
    }
}

}  // namespace

void count_moved_to_rejects(engine::Connection& conn, const std::string& schema,
                            const std::vector<std::string>& chat_ids) {
    // A range that wrote none counted the row as already present (a table completed in place).
    recount(conn, schema, chat_ids,
            "messages = messages - (messages > 0)::int, present = present - (messages = 0 AND present > 0)::int,"
            " rejected = rejected + 1");
}

void count_restored_from_rejects(engine::Connection& conn, const std::string& schema,
                                 const std::vector<std::string>& chat_ids) {
    recount(conn, schema, chat_ids, "messages = messages + 1, rejected = rejected - (rejected > 0)::int");
}

void retarget_checkpoint(engine::Connection& conn, const std::string& schema, const std::string& table) {
    if (!table_exists(conn, schema)) return;
    conn.exec("UPDATE " + engine::qualified(schema, kTable) + " SET target = $2 WHERE job = $1",
              {std::string(kJob), table});
}

std::optional<Checkpoint> load_checkpoint(engine::Connection& conn, const std::string& schema) {
    if (!table_exists(conn, schema)) return std::nullopt;
    const bool targeted = has_column(conn, schema, "target");
    engine::Result t = conn.exec(std::string("SELECT ") + (targeted ? "min(target)" : "'chat_message'") + " FROM " +
                                     engine::qualified(schema, kTable) + " WHERE job = $1",
                                 {std::string(kJob)});
    std::vector<ChatRange> ranges = load_ranges(conn, schema);
    if (ranges.empty()) return std::nullopt;
    Checkpoint cp;
    cp.target = PQgetvalue(t.get(), 0, 0);
    cp.ranges = ranges.size();
    for (const ChatRange& r : ranges) {
        cp.add(r);
        cp.ranges_complete += r.complete ? 1 : 0;
    }
    cp.complete = cp.ranges_complete == cp.ranges;
    return cp;
}

void save_range(engine::Connection& conn, const std::string& schema, const std::string& target, const ChatRange& r) {
    engine::Result done = conn.exec(
        "UPDATE " + engine::qualified(schema, kTable) +
            " SET last_chat_id = $3, chats = $4, messages = $5, present = $6, rejected = $7, skipped = $8, bytes = $9,"
            " complete = $10, target = $11, updated_at = now() WHERE job = $1 AND range_no = $2",
        {std::string(kJob), std::to_string(r.no), r.last_chat_id, std::to_string(r.chats), std::to_string(r.messages),
         std::to_string(r.present), std::to_string(r.rejected), skipped_array(r.skipped), std::to_string(r.bytes),
         std::string(r.complete ? "true" : "false"), target});
    if (std::string(PQcmdTuples(done.get())) != "1") {
        throw std::runtime_error("the checkpoint of range " + std::to_string(r.no) + " is gone from " +
                                 engine::qualified(schema, kTable) +
                                 " (was sluice cleanup run meanwhile?); run sluice migrate again");
    }
}

}  // namespace sluice::stages
