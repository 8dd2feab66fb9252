// The cursor over one range: chats LEFT JOIN LATERAL their keys, FETCH in single-row mode, each
// chat's keys parsed from the JSON array the server aggregated.
#include "stages/current_message/chat_keys_reader.h"

#include <rapidjson/document.h>

#include <stdexcept>

#include "engine/sessions.h"
#include "engine/shared_snapshot.h"

namespace sluice::stages::current_message {

namespace {
constexpr const char* kCursor = "sluice_current_message_chats";

std::string_view text(const PGresult* r, int column) {
    return {PQgetvalue(r, 0, column), static_cast<std::size_t>(PQgetlength(r, 0, column))};
}

std::optional<std::string_view> nullable(const PGresult* r, int column) {
    if (PQgetisnull(r, 0, column)) return std::nullopt;
    return text(r, column);
}

std::optional<std::string_view> json_text(const rapidjson::Value& v) {
    if (v.IsNull()) return std::nullopt;
    return std::string_view(v.GetString(), v.GetStringLength());
}

// `json` is the chat's keys as [[id, parent_id, created_at], ...]; parsed in place, so the
// views point into it.
void parse_keys(std::string& json, const std::string_view chat_id, std::vector<MessageKey>& out) {
    rapidjson::Document doc;
    doc.ParseInsitu(json.data());
    if (doc.HasParseError() || !doc.IsArray())
        throw std::runtime_error("chat " + std::string(chat_id) +
                                 ": the server's list of chat_message keys is not JSON");
    for (const rapidjson::Value& row : doc.GetArray()) {
        const rapidjson::Value& created = row[2];
        out.push_back({*json_text(row[0]), json_text(row[1]),
                       created.IsNull() ? std::nullopt : std::optional<std::int64_t>(created.GetInt64())});
    }
}

bool has_current_column(engine::Connection& conn, const std::string& schema) {
    engine::Result r = conn.exec(
        "SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'current_message_id'"
        " AND NOT attisdropped",
        {engine::qualified(schema, "chat")});
    return std::string_view(PQgetvalue(r.get(), 0, 0)) == "1";
}
}  // namespace

ChatKeysReader::ChatKeysReader(const ChatKeysSettings& settings)
    : settings_(settings), conn_(settings.conninfo, settings.label) {
    // A stop ends the stream at a batch boundary; cancelling a FETCH would only make that an error.
    engine::sessions::set_cancellable(conn_.raw(), false);
    // The plan's cost grows with the table, so JIT would compile it on every range: on 20,000
    // chats that cost more than it saved (scripts in the h20w report).
    conn_.exec("SET jit = off");
    conn_.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (settings_.snapshot) engine::SharedSnapshot::import(conn_, *settings_.snapshot);
    has_column_ = has_current_column(conn_, settings_.schema);
}

std::string ChatKeysReader::query(const std::string& schema, bool has_column, const IdRange& range) {
    std::string where = " WHERE true";
    int n = 0;
    if (range.lo)
        where += std::string(" AND c.id COLLATE \"C\" ") + (range.after_lo ? ">" : ">=") + " $" + std::to_string(++n);
    if (range.hi)
        where += std::string(" AND c.id COLLATE \"C\" ") + (range.upto_hi ? "<=" : "<") + " $" + std::to_string(++n);
    // The keys in id order, so that a tie between newest leaves resolves the same on a rerun.
    return "SELECT c.id, " + std::string(has_column ? "c.current_message_id" : "NULL::text") +
           ", c.chat::text, k.keys FROM " + engine::qualified(schema, "chat") +
           " c LEFT JOIN LATERAL (SELECT json_agg(json_build_array(m.id, m.parent_id, m.created_at)"
           " ORDER BY m.id COLLATE \"C\") AS keys FROM " +
           engine::qualified(schema, "chat_message") + " m WHERE m.chat_id = c.id) k ON true" + where +
           " ORDER BY c.id COLLATE \"C\"";
}

void ChatKeysReader::open(const IdRange& range) {
    std::vector<std::optional<std::string>> params;
    if (range.lo) params.push_back(range.lo);
    if (range.hi) params.push_back(range.hi);
    conn_.exec(
        "DECLARE " + std::string(kCursor) + " NO SCROLL CURSOR FOR " + query(settings_.schema, has_column_, range),
        params);
    open_ = true;
}

engine::Result ChatKeysReader::pull() {
    if (!open_) return nullptr;
    if (!fetching_) {
        conn_.send_single_row_query("FETCH FORWARD " + std::to_string(settings_.fetch_rows) + " FROM " + kCursor);
        fetching_ = true;
        fetched_ = 0;
    }
    if (engine::Result row = conn_.next_row()) {
        ++fetched_;
        return row;
    }
    fetching_ = false;
    if (fetched_ < settings_.fetch_rows) {  // a short FETCH: the cursor is at its end
        conn_.exec("CLOSE " + std::string(kCursor));
        open_ = false;
        return nullptr;
    }
    return pull();
}

void ChatKeysReader::add(ChatKeysBatch& batch, engine::Result row) {
    const PGresult* r = row.get();
    ChatInput& chat = batch.chats.emplace_back();
    chat.id = text(r, 0);
    chat.current = nullable(r, 1);
    chat.chat = nullable(r, 2);
    if (!PQgetisnull(r, 0, 3)) parse_keys(batch.keys_json.emplace_back(text(r, 3)), chat.id, chat.rows);
    batch.source_bytes += static_cast<std::size_t>(PQgetlength(r, 0, 2) + PQgetlength(r, 0, 3));
    if (batch.chats.size() == 1) batch.first_chat_id = chat.id;
    batch.last_chat_id = chat.id;
    batch.source.push_back(std::move(row));
}

bool ChatKeysReader::next(ChatKeysBatch& batch) {
    while (batch.count() < settings_.batch_rows && batch.source_bytes < settings_.batch_bytes) {
        if (!pending_) pending_ = pull();
        if (!pending_) break;
        const auto bytes = static_cast<std::size_t>(PQgetlength(pending_.get(), 0, 2));
        if (batch.count() > 0 && batch.source_bytes + bytes > settings_.batch_bytes) break;  // it opens the next
        add(batch, std::move(pending_));
    }
    return batch.count() > 0;
}

void ChatKeysReader::finish() {
    if (open_) conn_.exec("CLOSE " + std::string(kCursor));
    open_ = false;
    conn_.exec("COMMIT");  // read only: ends the snapshot
}

}  // namespace sluice::stages::current_message
