// Micro-benchmark of the chat transform alone (parse + emit, one thread): reads chats as JSON
// lines {"id","user_id","chat"} (the generator's --format jsonl), holds them in memory, runs the
// transform over them `--rounds` times and prints MB/s of chat JSON and messages/s.
// Usage: transform_bench [--rounds N] < chats.jsonl
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "stages/chat_transform.h"

using namespace sluice;

int main(int argc, char** argv) {
    int rounds = 5;
    if (argc == 3 && std::strcmp(argv[1], "--rounds") == 0) rounds = std::atoi(argv[2]);
    struct Chat {
        std::string id, user_id, chat;
        bool null = false;
    };
    std::vector<Chat> chats;
    std::size_t bytes = 0;
    std::string line;
    while (std::getline(std::cin, line)) {
        rapidjson::Document d;
        d.Parse(line.c_str(), line.size());
        if (d.HasParseError() || !d.IsObject()) continue;
        Chat c;
        c.id = d["id"].GetString();
        if (d["user_id"].IsString()) c.user_id = d["user_id"].GetString();
        if (c.user_id.rfind("shared-", 0) == 0 || !d["user_id"].IsString()) continue;  // the reader's selection
        c.null = !d["chat"].IsString();
        if (!c.null) c.chat.assign(d["chat"].GetString(), d["chat"].GetStringLength());
        bytes += c.chat.size();
        chats.push_back(std::move(c));
    }
    stages::ChatTransform transform(1750000000);
    stages::TransformOutput out;
    std::vector<double> seconds;
    std::size_t rows = 0, out_bytes = 0;
    for (int r = 0; r < rounds; ++r) {
        rows = out_bytes = 0;
        auto start = std::chrono::steady_clock::now();
        for (std::size_t i = 0; i < chats.size(); ++i) {
            const Chat& c = chats[i];
            stages::ChatRow row{c.id, c.user_id, std::nullopt};
            if (!c.null) row.chat = std::string_view(c.chat);
            transform.run(row, out);
            if ((i & 63) == 63) {  // batches of 64 chats, as the pipeline would hand them over
                rows += out.rows.count();
                out_bytes += out.rows.tuples.size();
                out.clear();
            }
        }
        rows += out.rows.count();
        out_bytes += out.rows.tuples.size();
        out.clear();
        seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(seconds.begin(), seconds.end());
    double median = seconds[seconds.size() / 2];
    std::printf("transform_bench: %zu chats, %.1f MB of chat JSON, %zu messages, %.1f MB of COPY tuples\n",
                chats.size(), bytes / 1e6, rows, out_bytes / 1e6);
    std::printf("transform_bench: median of %d rounds %.3f s: %.0f MB/s of chat JSON, %.0f messages/s (one thread)\n",
                rounds, median, bytes / 1e6 / median, rows / median);
    return 0;
}
