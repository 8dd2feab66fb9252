// Benchmark of reader + parse threads with a writer that only discards: how fast sluice can
// turn the chat table into rows, and how that scales with parse threads. Prints chats/s,
// messages/s and MB/s of chat JSON.  Usage: pipeline_bench --db URL [--schema S] [--threads N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include <oneapi/tbb/enumerable_thread_specific.h>

#include "config/run_config.h"
#include "engine/budget.h"
#include "engine/pipeline.h"
#include "stages/chat_reader.h"

using namespace sluice;

int main(int argc, char** argv) {
    std::string db, schema = "public";
    unsigned threads = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--db")) db = argv[i + 1];
        else if (!std::strcmp(argv[i], "--schema")) schema = argv[i + 1];
        else if (!std::strcmp(argv[i], "--threads")) threads = static_cast<unsigned>(std::atoi(argv[i + 1]));
    }
    if (db.empty() || threads == 0) {
        std::fprintf(stderr, "usage: pipeline_bench --db URL [--schema S] [--threads N]\n");
        return 2;
    }
    const config::RunConfig defaults;  // sluice's own defaults for batches and the budget
    engine::InflightBudget budget(defaults.max_inflight_batches, defaults.max_inflight_bytes);
    std::atomic<bool> stop{false};
    stages::ChatReader reader({db, schema, defaults.fetch_rows, defaults.batch_rows, defaults.batch_bytes, std::nullopt},
                              budget, stop);
    tbb::enumerable_thread_specific<stages::ChatTransform> transforms(static_cast<std::int64_t>(std::time(nullptr)),
                                                                      reader.validate_utf8());
    std::uint64_t chats = 0, rows = 0, bytes = 0;
    engine::PipelineStages<stages::ChatBatch> stages;
    stages.read = [&] { return reader.next(); };
    stages.transform = [&](stages::ChatBatch& b) { stages::transform_batch(b, transforms.local()); };
    stages.write = [&](stages::ChatBatch& b) {  // discard, and give the budget back at once
        chats += b.chats;
        rows += b.out.rows.count();
        bytes += b.source_bytes;
        if (b.kind == engine::BatchKind::data) budget.give_back(1, b.source_bytes);
    };
    auto start = std::chrono::steady_clock::now();
    engine::run_pipeline(stages, threads, budget);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("pipeline_bench: %u parse thread(s): %llu chats, %llu messages in %.2f s: %.0f messages/s, %.1f MB/s\n",
                threads, static_cast<unsigned long long>(chats), static_cast<unsigned long long>(rows), s, rows / s,
                bytes / s / 1e6);
    return 0;
}
