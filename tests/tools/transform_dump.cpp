// Test tool for the differential test: reads chat rows as JSON lines {"id","user_id","chat"}
// on stdin and prints, one JSON line each, the chat_message rows the transform emits and its
// rejects ({"reject": {...}}). Usage: transform_dump --now EPOCH_SECONDS [--utf8-source] < chats.jsonl
// --utf8-source: the chats come from a UTF-8 database, as the reader finds most (the transform
// then trusts the server's checks and scans with the fast walk); else any bytes are checked.
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include <rapidjson/document.h>

#include "engine/copy_binary.h"
#include "stages/chat_message/chat_transform.h"

using namespace sluice;

int main(int argc, char** argv) {
    const bool utf8_source = argc == 4 && std::strcmp(argv[3], "--utf8-source") == 0;
    if ((argc != 3 && !utf8_source) || std::strcmp(argv[1], "--now") != 0) {
        std::cerr << "usage: transform_dump --now EPOCH_SECONDS [--utf8-source] < chats.jsonl\n";
        return 2;
    }
    stages::ChatTransform transform(std::strtoll(argv[2], nullptr, 10), /*validate_utf8=*/!utf8_source);
    stages::TransformOutput out;
    std::string line, chat, rendered;
    std::size_t line_no = 0;
    while (std::getline(std::cin, line)) {
        ++line_no;
        rapidjson::Document d;
        d.Parse(line.c_str(), line.size());
        if (d.HasParseError() || !d.IsObject() || !d.HasMember("id") || !d["id"].IsString()) {
            std::cerr << "transform_dump: line " << line_no << " is not {\"id\",\"user_id\",\"chat\"}\n";
            return 2;
        }
        stages::ChatRow row;
        row.id = {d["id"].GetString(), d["id"].GetStringLength()};
        if (d.HasMember("user_id") && d["user_id"].IsString())
            row.user_id = {d["user_id"].GetString(), d["user_id"].GetStringLength()};
        if (d.HasMember("chat") && d["chat"].IsString()) {
            chat.assign(d["chat"].GetString(), d["chat"].GetStringLength());  // NUL-terminated copy
            row.chat = std::string_view(chat);
        }
        out.clear();
        transform.run(row, out);
        for (std::size_t i = 0; i < out.rows.count(); ++i) {
            std::cout << engine::tuple_to_json(out.rows.tuple(i), stages::chat_message_columns()) << '\n';
        }
        for (const auto& rej : out.rejects) {
            rendered = "{\"reject\":{\"id\":";
            engine::append_json_string(rendered, rej.key);
            rendered += ",\"chat_id\":";
            engine::append_json_string(rendered, rej.group);
            rendered += ",\"sqlstate\":";
            engine::append_json_string(rendered, rej.sqlstate);
            rendered += ",\"message\":";
            engine::append_json_string(rendered, rej.message);
            rendered += ",\"row\":" + rej.row_json + "}}";
            std::cout << rendered << '\n';
        }
    }
    return 0;
}
