// The checkpoint table's statements.
#include "stages/current_message/checkpoint.h"

#include <cstdlib>
#include <stdexcept>

#include "engine/run_fence.h"
#include "stages/shared/app_owner.h"
#include "stages/shared/catalog.h"

namespace sluice::stages::current_message {

namespace {

std::string table(const std::string& schema) {
    return engine::qualified(schema, kCheckpointTable);
}

std::uint64_t number(const engine::Result& r, int row, int column) {
    return std::strtoull(PQgetvalue(r.get(), row, column), nullptr, 10);
}

std::optional<std::string> nullable(const engine::Result& r, int row, int column) {
    if (PQgetisnull(r.get(), row, column)) return std::nullopt;
    return std::string(PQgetvalue(r.get(), row, column));
}

}  // namespace

void create_state_tables(engine::Connection& conn, const std::string& schema) {
    engine::in_transaction(conn, [&] {
        create_as_app_owner(conn, schema);  // a run resumed as the app's role may use them
        conn.exec("CREATE TABLE IF NOT EXISTS " + table(schema) +
                  " (range_no integer PRIMARY KEY, lower_id text, upper_id text, last_chat_id text,"
                  " planned_chats bigint NOT NULL DEFAULT 0, chats bigint NOT NULL DEFAULT 0,"
                  " updated bigint NOT NULL DEFAULT 0, rejected bigint NOT NULL DEFAULT 0,"
                  " complete boolean NOT NULL DEFAULT false, updated_at timestamptz NOT NULL DEFAULT now())");
        reject_table(schema).create(conn);
    });
}

void save_plan(engine::Connection& conn, const std::string& schema, const std::vector<ValueRange>& ranges) {
    engine::in_transaction(conn, [&] {
        conn.exec("DELETE FROM " + table(schema));
        // A new plan judges every chat again: the rejects of an earlier one would be stale.
        conn.exec("DELETE FROM " + reject_table(schema).qualified_name());
        for (const ValueRange& r : ranges)
            conn.exec("INSERT INTO " + table(schema) +
                          " (range_no, lower_id, upper_id, planned_chats)"
                          " VALUES ($1, $2, $3, $4)",
                      {std::to_string(r.no), r.lower, r.upper, std::to_string(r.planned_chats)});
        engine::hold_fence(conn);
    });
}

std::vector<ValueRange> load_plan(engine::Connection& conn, const std::string& schema) {
    if (!relation_exists(conn, schema, kCheckpointTable)) return {};
    engine::Result r = conn.exec(
        "SELECT range_no, lower_id, upper_id, last_chat_id, planned_chats, chats, rejected,"
        " complete FROM " +
        table(schema) + " ORDER BY range_no");
    std::vector<ValueRange> ranges;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        ValueRange& range = ranges.emplace_back();
        range.no = std::atoi(PQgetvalue(r.get(), i, 0));
        range.lower = nullable(r, i, 1);
        range.upper = nullable(r, i, 2);
        range.last_chat_id = nullable(r, i, 3);
        range.planned_chats = number(r, i, 4);
        range.chats = number(r, i, 5);
        range.rejected = number(r, i, 6);
        range.complete = PQgetvalue(r.get(), i, 7)[0] == 't';
    }
    return ranges;
}

std::optional<Progress> load_progress(engine::Connection& conn, const std::string& schema) {
    if (!relation_exists(conn, schema, kCheckpointTable)) return std::nullopt;
    engine::Result r = conn.exec(
        "SELECT count(*), count(*) FILTER (WHERE complete), coalesce(sum(chats), 0),"
        " coalesce(sum(updated), 0), coalesce(sum(rejected), 0) FROM " +
        table(schema));
    Progress p;
    p.ranges = number(r, 0, 0);
    if (p.ranges == 0) return std::nullopt;
    p.ranges_complete = number(r, 0, 1);
    p.tally.chats = number(r, 0, 2);
    p.tally.updated = number(r, 0, 3);
    p.tally.rejected = number(r, 0, 4);
    return p;
}

void save_commit(engine::Connection& conn, const std::string& schema, int no,
                 const std::optional<std::string>& last_chat_id, bool complete, const ValueTally& tally) {
    engine::Result r =
        conn.exec("UPDATE " + table(schema) +
                      " SET last_chat_id = coalesce($2, last_chat_id), complete = complete OR $3,"
                      " chats = chats + $4, updated = updated + $5, rejected = rejected + $6, updated_at = now()"
                      " WHERE range_no = $1",
                  {std::to_string(no), last_chat_id, complete ? "true" : "false", std::to_string(tally.chats),
                   std::to_string(tally.updated), std::to_string(tally.rejected)});
    if (std::string_view(PQcmdTuples(r.get())) != "1")
        throw std::runtime_error("the checkpoint of range " + std::to_string(no) + " is gone from " + table(schema) +
                                 ": another run made a new plan; run the same command again");
    engine::hold_fence(conn);
}

}  // namespace sluice::stages::current_message
