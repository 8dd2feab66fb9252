// Duplicate ids: the losers of a key-less table moved out, and rejected winners restored.
#include "stages/chat_message/duplicate_ids.h"

#include <vector>

#include "engine/copy_binary.h"
#include "engine/log.h"
#include "engine/words.h"
#include "stages/chat_message/chat_reader.h"
#include "stages/chat_message/chat_transform.h"
#include "stages/chat_message/checkpoint.h"
#include "stages/chat_message/moved_rows.h"
#include "stages/openwebui.h"

namespace sluice::stages {

namespace {

constexpr const char* kDuplicate = "23505";  // what the primary key would say

std::string duplicate_message(const std::string& keeper) {
    std::string quoted;
    engine::append_json_string(quoted, keeper);
    return "duplicate id: chat " + quoted +
           " has a message with this id too, and keeps it (its id sorts first, "
           "in byte order)";
}

std::string text(const PGresult* r, int row, int column) {
    return {PQgetvalue(r, row, column), static_cast<std::size_t>(PQgetlength(r, row, column))};
}

// A rejected chat's row for `id`, derived again from `chat` as the writer derived it; empty
// when the chat no longer gives that id (it changed, or is no longer selected).
std::string derive_row(engine::Connection& conn, const Target& t, const std::string& chat_id, const std::string& id,
                       std::int64_t now) {
    engine::Result chat =
        conn.exec("SELECT id, user_id, chat::text FROM " + engine::qualified(t.schema, openwebui::kChat) +
                      openwebui::kSelectedChats + " AND id = $1",
                  {chat_id});
    if (PQntuples(chat.get()) == 0) return {};
    engine::Result encoding = conn.exec("SHOW server_encoding");
    ChatTransform transform(now, std::string(PQgetvalue(encoding.get(), 0, 0)) != "UTF8");
    TransformOutput out;
    auto field = [&](int column) {
        return std::string_view(PQgetvalue(chat.get(), 0, column),
                                static_cast<std::size_t>(PQgetlength(chat.get(), 0, column)));
    };
    ChatRow row{field(0), field(1), std::nullopt};
    if (!PQgetisnull(chat.get(), 0, 2)) row.chat = field(2);
    transform.run(row, out);
    for (std::size_t i = 0; i < out.rows.count(); ++i) {
        if (engine::decode_tuple(out.rows.tuple(i)).at(0).bytes == id) return std::string(out.rows.tuple(i));
    }
    return {};
}

struct Settle {
    std::string id, winner, loser, loser_ctid;
};

// The stored row goes to the rejects, the winner's row takes its place and its reject goes.
void swap_rows(engine::Connection& conn, const Target& t, const Settle& s, const std::string& tuple) {
    engine::in_transaction(conn, [&] {
        // One reject for another: --max-rejects is not passed by it.
        move_to_rejects(conn, t, {{s.loser_ctid, s.loser, kDuplicate, duplicate_message(s.winner)}}, std::nullopt, "");
        std::string columns;
        for (const engine::Column& c : chat_message_columns())
            columns += (columns.empty() ? "" : ", ") + engine::quote_ident(c.name);
        conn.copy_binary("COPY " + t.qualified() + " (" + columns + ") FROM STDIN (FORMAT binary)", {tuple});
        const std::string rejects = reject_table(t.schema).qualified_name();
        conn.exec("DELETE FROM " + rejects + " WHERE id = $1 AND chat_id = $2 AND sqlstate = $3",
                  {s.id, s.winner, std::string(kDuplicate)});
        // The other chats rejected for this id named the row that held it until now.
        conn.exec("UPDATE " + rejects + " SET message = $3 WHERE id = $1 AND sqlstate = $2",
                  {s.id, std::string(kDuplicate), duplicate_message(s.winner)});
        count_restored_from_rejects(conn, t.schema, {s.winner});
    });
}

}  // namespace

std::uint64_t reject_duplicate_ids(engine::Connection& conn, const Target& t,
                                   std::optional<std::uint64_t> max_rejects) {
    std::uint64_t moved = 0;
    engine::in_transaction(conn, [&] {
        engine::Result r = conn.exec(
            "WITH first AS (SELECT id, min(chat_id COLLATE \"C\") AS keeper FROM " + t.qualified() +
            " GROUP BY id HAVING count(DISTINCT chat_id) > 1) SELECT m.ctid::text, m.chat_id, f.keeper FROM " +
            t.qualified() + " m JOIN first f ON f.id = m.id WHERE m.chat_id COLLATE \"C\" <> f.keeper");
        std::vector<RowToReject> rows;
        for (int i = 0; i < PQntuples(r.get()); ++i)
            rows.push_back(
                {text(r.get(), i, 0), text(r.get(), i, 1), kDuplicate, duplicate_message(text(r.get(), i, 2))});
        move_to_rejects(conn, t, rows, max_rejects, "messages have the id of a message of a chat that sorts first");
        moved = rows.size();
    });
    return moved;
}

std::string settle_duplicate_ids(engine::Connection& conn, const Target& t, std::int64_t now) {
    // For each id, the rejected chat that sorts first, where the stored row's chat sorts after it.
    engine::Result r =
        conn.exec("SELECT DISTINCT ON (r.id) r.id, r.chat_id, m.chat_id, m.ctid::text FROM " +
                      reject_table(t.schema).qualified_name() + " r JOIN " + t.qualified() +
                      " m ON m.id = r.id WHERE r.sqlstate = $1 AND r.chat_id COLLATE \"C\" < m.chat_id COLLATE \"C\""
                      " ORDER BY r.id, r.chat_id COLLATE \"C\"",
                  {std::string(kDuplicate)});
    std::uint64_t settled = 0;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        const Settle s{text(r.get(), i, 0), text(r.get(), i, 1), text(r.get(), i, 2), text(r.get(), i, 3)};
        try {
            const std::string tuple = derive_row(conn, t, s.winner, s.id, now);
            if (tuple.empty()) continue;  // that chat no longer gives the id: the stored row stays
            swap_rows(conn, t, s, tuple);
            ++settled;
        } catch (const engine::PgError& e) {
            if (e.action() != engine::ErrorAction::reject_row) throw;
            // The winner's row cannot be stored after all (its chat changed): the stored row stays.
            engine::log::debug("duplicate id " + s.id + " left to chat " + s.loser + ": " + e.message());
        }
    }
    if (settled == 0) return {};
    return engine::plural(settled, "duplicate id") +
           " now held by the chat whose id sorts first (the other chat's "
           "row moved to the rejects)";
}

}  // namespace sluice::stages
