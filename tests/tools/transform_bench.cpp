// Benchmark of the chat transform with the server out of the loop. Reads chats as JSON lines
// {"id","user_id","chat"} (the generator's --format jsonl) and holds them in memory, then, with
// medians of `--rounds` rounds:
//   - the transform alone on this thread (parse + emit), MB/s of chat JSON and messages/s;
//   - for each count in `--threads` (e.g. 1,2): sluice's own pipeline (engine::run_lanes, one lane, with
//     that many parse threads, the in-flight budget at its defaults, a writer that discards)
//     fed from memory, and how that scales against the first count.
// Usage: transform_bench [--rounds N] [--threads 1,2] < chats.jsonl
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <oneapi/tbb/enumerable_thread_specific.h>
#include <rapidjson/document.h>

#include "config/run_config.h"
#include "engine/budget.h"
#include "engine/pipeline.h"
#include "stages/chat_message/chat_batch.h"
#include "stages/chat_message/chat_transform.h"

using namespace sluice;

namespace {

struct Chat {
    std::string id, user_id, chat;
    bool null = false;
};

std::vector<Chat> read_chats(std::istream& in, std::size_t& bytes) {
    std::vector<Chat> chats;
    std::string line;
    while (std::getline(in, line)) {
        rapidjson::Document d;
        d.Parse(line.c_str(), line.size());
        if (d.HasParseError() || !d.IsObject()) continue;
        if (!d["user_id"].IsString()) continue;  // the reader's selection
        Chat c;
        c.id = d["id"].GetString();
        c.user_id = d["user_id"].GetString();
        if (c.user_id.rfind("shared-", 0) == 0) continue;
        c.null = !d["chat"].IsString();
        if (!c.null) c.chat.assign(d["chat"].GetString(), d["chat"].GetStringLength());
        bytes += c.chat.size();
        chats.push_back(std::move(c));
    }
    return chats;
}

// The chat as a one-row result, as the reader's single-row FETCH hands it over.
engine::Result as_result(const Chat& c) {
    engine::Result r(PQmakeEmptyPGresult(nullptr, PGRES_SINGLE_TUPLE));
    PGresAttDesc attrs[3] = {};
    const char* names[3] = {"id", "user_id", "chat"};
    for (int i = 0; i < 3; ++i) {
        attrs[i].name = const_cast<char*>(names[i]);
        attrs[i].typid = 25;  // text
        attrs[i].typlen = -1;
        attrs[i].atttypmod = -1;
    }
    if (!r || !PQsetResultAttrs(r.get(), 3, attrs) ||
        !PQsetvalue(r.get(), 0, 0, const_cast<char*>(c.id.data()), static_cast<int>(c.id.size())) ||
        !PQsetvalue(r.get(), 0, 1, const_cast<char*>(c.user_id.data()), static_cast<int>(c.user_id.size())) ||
        !PQsetvalue(r.get(), 0, 2, c.null ? nullptr : const_cast<char*>(c.chat.data()),
                    c.null ? -1 : static_cast<int>(c.chat.size()))) {
        std::fprintf(stderr, "transform_bench: out of memory building results\n");
        std::exit(1);
    }
    return r;
}

const config::RunConfig kDefaults;  // sluice's own defaults for batches and the budget

// Batches cut as the reader cuts them, by chats and by bytes of chat JSON.
std::vector<std::unique_ptr<stages::ChatBatch>> make_batches(const std::vector<Chat>& chats) {
    std::vector<std::unique_ptr<stages::ChatBatch>> batches;
    for (const Chat& c : chats) {
        if (batches.empty() || batches.back()->chats == kDefaults.batch_rows ||
            batches.back()->source_bytes >= kDefaults.batch_bytes) {
            batches.push_back(std::make_unique<stages::ChatBatch>());
            batches.back()->seq = batches.size() - 1;
        }
        batches.back()->source.push_back(as_result(c));
        batches.back()->source_bytes += c.chat.size();
        ++batches.back()->chats;
    }
    auto end = std::make_unique<stages::ChatBatch>();
    end->kind = engine::BatchKind::end;
    end->seq = batches.size();
    batches.push_back(std::move(end));
    return batches;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

double transform_alone(const std::vector<Chat>& chats, int rounds, std::size_t& rows, std::size_t& out_bytes) {
    stages::ChatTransform transform(1750000000);
    stages::TransformOutput out;
    std::vector<double> seconds;
    for (int r = 0; r < rounds; ++r) {
        rows = out_bytes = 0;
        auto start = std::chrono::steady_clock::now();
        for (std::size_t i = 0; i < chats.size(); ++i) {
            const Chat& c = chats[i];
            stages::ChatRow row{c.id, c.user_id, std::nullopt};
            if (!c.null) row.chat = std::string_view(c.chat);
            transform.run(row, out);
            if ((i & 63) == 63) {  // hand over every 64 chats, as batches would
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
    return median(seconds);
}

double through_pipeline(const std::vector<Chat>& chats, unsigned threads, int rounds, std::size_t& rows) {
    std::vector<double> seconds;
    for (int r = 0; r < rounds; ++r) {
        auto batches = make_batches(chats);  // untimed: the server's part of the work
        engine::InflightBudget budget(kDefaults.max_inflight_batches, kDefaults.max_inflight_bytes);
        tbb::enumerable_thread_specific<stages::ChatTransform> transforms(std::int64_t{1750000000});
        std::size_t next = 0;
        rows = 0;
        engine::Lane<stages::ChatBatch> lane;
        lane.read = [&] {
            std::unique_ptr<stages::ChatBatch> b = std::move(batches[next++]);
            if (b->kind == engine::BatchKind::data) budget.take(b->source_bytes, true);
            return b;
        };
        auto transform = [&](stages::ChatBatch& b) { stages::transform_batch(b, transforms.local()); };
        lane.write = [&](stages::ChatBatch& b) {
            rows += b.out.rows.count();
            if (b.kind == engine::BatchKind::data) budget.give_back(1, b.source_bytes);
        };
        auto start = std::chrono::steady_clock::now();
        engine::run_lanes<stages::ChatBatch>({lane}, transform, threads, budget);
        seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    return median(seconds);
}

}  // namespace

int main(int argc, char** argv) {
    int rounds = 5;
    std::vector<unsigned> thread_counts;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--rounds")) {
            rounds = std::atoi(argv[i + 1]);
        } else if (!std::strcmp(argv[i], "--threads")) {
            std::stringstream list(argv[i + 1]);
            for (std::string n; std::getline(list, n, ',');)
                thread_counts.push_back(static_cast<unsigned>(std::atoi(n.c_str())));
        } else {
            rounds = 0;
        }
    }
    if (rounds < 1 || (argc % 2) != 1 ||
        std::any_of(thread_counts.begin(), thread_counts.end(), [](unsigned n) { return n == 0; })) {
        std::fprintf(stderr, "usage: transform_bench [--rounds N] [--threads 1,2] < chats.jsonl\n");
        return 2;
    }
    std::size_t bytes = 0;
    const std::vector<Chat> chats = read_chats(std::cin, bytes);
    const double mb = bytes / 1e6;

    std::size_t rows = 0, out_bytes = 0;
    double alone = transform_alone(chats, rounds, rows, out_bytes);
    std::printf("transform_bench: %zu chats, %.1f MB of chat JSON, %zu messages, %.1f MB of COPY tuples\n",
                chats.size(), mb, rows, out_bytes / 1e6);
    std::printf("transform_bench: median of %d rounds %.3f s: %.0f MB/s of chat JSON, %.0f messages/s (one thread)\n",
                rounds, alone, mb / alone, rows / alone);
    double first = 0;
    for (unsigned n : thread_counts) {
        double s = through_pipeline(chats, n, rounds, rows);
        if (first == 0) first = s;
        std::printf(
            "transform_bench: pipeline, %u parse thread(s): median %.3f s: %.0f MB/s, %.0f messages/s, "
            "%.2fx the %u-thread rate\n",
            n, s, mb / s, rows / s, first / s, thread_counts.front());
    }
    return 0;
}
