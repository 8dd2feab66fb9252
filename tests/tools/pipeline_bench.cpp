// Benchmark of readers + parse threads with writers that only discard: how fast sluice can
// turn the chat table into rows, and how that scales with parse threads and lanes. Prints
// chats/s, messages/s and MB/s of chat JSON.
// Usage: pipeline_bench --db URL [--schema S] [--threads N] [--lanes K]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <oneapi/tbb/enumerable_thread_specific.h>

#include "config/run_config.h"
#include "engine/budget.h"
#include "engine/pipeline.h"
#include "engine/shared_snapshot.h"
#include "stages/chat_message/chat_reader.h"
#include "stages/shared/backfill_plan.h"

using namespace sluice;

int main(int argc, char** argv) {
    std::string db, schema = "public";
    unsigned threads = 1, lanes = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--db"))
            db = argv[i + 1];
        else if (!std::strcmp(argv[i], "--schema"))
            schema = argv[i + 1];
        else if (!std::strcmp(argv[i], "--threads"))
            threads = static_cast<unsigned>(std::atoi(argv[i + 1]));
        else if (!std::strcmp(argv[i], "--lanes"))
            lanes = static_cast<unsigned>(std::atoi(argv[i + 1]));
    }
    if (db.empty() || threads == 0 || lanes == 0) {
        std::fprintf(stderr, "usage: pipeline_bench --db URL [--schema S] [--threads N] [--lanes K]\n");
        return 2;
    }
    const config::RunConfig defaults;  // sluice's own defaults for batches and the budget
    engine::InflightBudget budget(defaults.max_inflight_batches, defaults.max_inflight_bytes);
    std::atomic<bool> stop{false};
    auto start = std::chrono::steady_clock::now();
    engine::Connection control(db, "bench");
    stages::RangeQueue queue(stages::plan_ranges<stages::ChatRange>(control, schema, lanes == 1 ? 1 : 4 * lanes));
    std::optional<engine::SharedSnapshot> snapshot;
    if (lanes > 1) snapshot.emplace(db);
    std::vector<std::unique_ptr<stages::ChatReader>> readers;
    for (unsigned k = 0; k < lanes; ++k) {
        readers.push_back(std::make_unique<stages::ChatReader>(
            stages::ReaderSettings{db, schema, defaults.fetch_rows, defaults.batch_rows, defaults.batch_bytes,
                                   snapshot ? std::optional<std::string>(snapshot->name()) : std::nullopt},
            queue, budget, stop));
    }
    if (snapshot) snapshot->release();
    tbb::enumerable_thread_specific<stages::ChatTransform> transforms(static_cast<std::int64_t>(std::time(nullptr)),
                                                                      readers.front()->validate_utf8());
    std::atomic<std::uint64_t> chats{0}, rows{0}, bytes{0};
    std::vector<engine::Lane<stages::ChatBatch>> graph;
    for (unsigned k = 0; k < lanes; ++k) {
        graph.push_back({[&, k] { return readers[k]->next(); },
                         [&](stages::ChatBatch& b) {  // discard, and give the budget back at once
                             chats += b.chats;
                             rows += b.out.rows.count();
                             bytes += b.source_bytes;
                             if (b.kind == engine::BatchKind::data) budget.give_back(1, b.source_bytes);
                         }});
    }
    engine::run_lanes<stages::ChatBatch>(
        graph, [&](stages::ChatBatch& b) { stages::transform_batch(b, transforms.local()); }, threads, budget);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf(
        "pipeline_bench: %u lane(s), %u parse thread(s): %llu chats, %llu messages in %.2f s: %.0f messages/s, "
        "%.1f MB/s\n",
        lanes, threads, static_cast<unsigned long long>(chats.load()), static_cast<unsigned long long>(rows.load()), s,
        rows.load() / s, bytes.load() / s / 1e6);
    return 0;
}
