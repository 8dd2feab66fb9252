// Test tool for the second job's differential test (tests/e2e/current_message_parity_test.py): reads
// a database at Open WebUI's 856c5b02fb54 and prints, one JSON line per chat, what the rule
// (stages/current_message/rule.h) gives it:
//   {"id", "current": text|null, "path": "A"|"B", "result": text|null, "ties": [texts],
//    "reject": why|null, "write": text|null}
// Usage: current_message_dump CONNINFO [SCHEMA]   (a chat without current_message_id: all NULL)
#include <cstdlib>
#include <iostream>
#include <string>

#include "engine/copy_binary.h"
#include "engine/pg.h"
#include "stages/current_message/rule.h"

using namespace sluice;
using stages::current_message::ChatInput;
using stages::current_message::Decision;

namespace {

std::optional<std::string_view> value(PGresult* r, int row, int col) {
    if (PQgetisnull(r, row, col)) return std::nullopt;
    return std::string_view(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
}

void append_text_or_null(std::string& out, std::optional<std::string_view> s) {
    if (s)
        engine::append_json_string(out, *s);
    else
        out += "null";
}

std::string line(const ChatInput& chat, const Decision& d) {
    std::string out = "{\"id\":";
    engine::append_json_string(out, chat.id);
    out += ",\"current\":";
    append_text_or_null(out, chat.current);
    out +=
        d.path == stages::current_message::Path::rows ? ",\"path\":\"A\",\"result\":" : ",\"path\":\"B\",\"result\":";
    append_text_or_null(out, d.resolved ? std::optional<std::string_view>(d.result) : std::nullopt);
    out += ",\"ties\":[";
    for (std::size_t i = 0; i < d.ties.size(); ++i) {
        if (i) out += ',';
        engine::append_json_string(out, d.ties[i]);
    }
    out += "],\"reject\":";
    append_text_or_null(out, d.reject.empty() ? std::nullopt : std::optional<std::string_view>(d.reject));
    out += ",\"write\":";
    append_text_or_null(out, d.write(chat.current));
    return out + "}";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::cerr << "usage: current_message_dump CONNINFO [SCHEMA]\n";
        return 2;
    }
    try {
        const std::string schema = argc == 3 ? argv[2] : "public";
        engine::Connection conn(argv[1], "dump");
        const std::string chat = engine::qualified(schema, "chat");
        engine::Result has = conn.exec(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'current_message_id'"
            " AND NOT attisdropped",
            {chat});
        const bool column = std::string_view(PQgetvalue(has.get(), 0, 0)) == "1";
        engine::Result chats = conn.exec("SELECT id, " + std::string(column ? "current_message_id" : "NULL::text") +
                                         ", chat::text FROM " + chat + " ORDER BY id COLLATE \"C\"");
        engine::Result rows =
            conn.exec("SELECT chat_id, id, parent_id, created_at FROM " + engine::qualified(schema, "chat_message") +
                      " ORDER BY chat_id COLLATE \"C\", id");
        stages::current_message::Rule rule;
        Decision decision;
        int r = 0;
        const int n_rows = PQntuples(rows.get());
        for (int c = 0; c < PQntuples(chats.get()); ++c) {
            ChatInput in{*value(chats.get(), c, 0), value(chats.get(), c, 1), value(chats.get(), c, 2), {}};
            while (r < n_rows && *value(rows.get(), r, 0) < in.id)
                ++r;  // rows of chats not listed
            for (; r < n_rows && *value(rows.get(), r, 0) == in.id; ++r) {
                auto t = value(rows.get(), r, 3);
                in.rows.push_back(
                    {*value(rows.get(), r, 1), value(rows.get(), r, 2),
                     t ? std::optional<std::int64_t>(std::strtoll(t->data(), nullptr, 10)) : std::nullopt});
            }
            rule.decide(in, decision);
            std::cout << line(in, decision) << '\n';
        }
    } catch (const std::exception& e) {
        std::cerr << "current_message_dump: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
