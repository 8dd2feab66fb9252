// The plan, the lanes wired into the engine's pipeline, and the report.
#include "stages/current_message/backfill.h"

#include <oneapi/tbb/enumerable_thread_specific.h>
#include <algorithm>
#include <chrono>
#include <memory>
#include <stdexcept>

#include "engine/budget.h"
#include "engine/pipeline.h"
#include "engine/shared_snapshot.h"
#include "stages/chat_message/backfill_plan.h"
#include "stages/chat_message/too_many_rejects.h"
#include "stages/current_message/phases.h"
#include "stages/current_message/range_reader.h"
#include "stages/current_message/range_writer.h"
#include "stages/openwebui.h"

namespace sluice::stages::current_message {

namespace {

using Clock = std::chrono::steady_clock;

// One range for one lane (one cursor reads the table), else more than lanes, so that a lane that
// finishes early takes another and the lanes end close together (as the first job plans).
unsigned ranges_for(unsigned lanes) {
    return lanes <= 1 ? 1 : 4 * lanes;
}

// The checkpoint's plan, else a new one over every chat (none is left out at this revision), its
// bounds in byte order as the reader reads them.
std::vector<ChatRange> starting_plan(const config::RunConfig& cfg, engine::Connection& control) {
    create_state_tables(control, cfg.schema);
    std::vector<ChatRange> plan = load_plan(control, cfg.schema);
    if (!plan.empty()) return plan;
    plan = plan_ranges(control, cfg.schema, ranges_for(cfg.lanes), "", "id COLLATE \"C\"");
    save_plan(control, cfg.schema, plan);
    return load_plan(control, cfg.schema);
}

// The lanes' readers and writers, each with a connection of its own; with more than one lane every
// reader imports one exported snapshot, so that the lanes together read one consistent database.
struct Lanes {
    std::vector<std::unique_ptr<RangeReader>> readers;
    std::vector<std::unique_ptr<RangeWriter>> writers;

    Lanes(const config::RunConfig& cfg, unsigned count, RangeQueue& queue, engine::InflightBudget& budget,
          engine::RunCounters& counters, engine::RejectLimit& limit, const std::atomic<bool>& stop) {
        std::optional<engine::SharedSnapshot> snapshot;
        if (count > 1) snapshot.emplace(cfg.db_url);
        for (unsigned k = 1; k <= count; ++k) {
            const std::string lane = count > 1 ? " " + std::to_string(k) : "";
            ChatKeysSettings read{
                cfg.db_url,     cfg.schema,      cfg.fetch_rows,
                cfg.batch_rows, cfg.batch_bytes, snapshot ? std::optional<std::string>(snapshot->name()) : std::nullopt,
                "reader" + lane};
            readers.push_back(std::make_unique<RangeReader>(read, queue, budget, stop));
            writers.push_back(
                std::make_unique<RangeWriter>(RangeWriterSettings{cfg.db_url, cfg.schema, cfg.commit_interval.every,
                                                                  cfg.commit_interval.bytes, "writer" + lane, k - 1},
                                              budget, counters, limit));
        }
        if (snapshot) snapshot->release();
    }
    bool interrupted() const {
        return std::any_of(writers.begin(), writers.end(), [](const auto& w) { return w->interrupted(); });
    }
};

void run_lanes(const config::RunConfig& cfg, const std::vector<ChatRange>& plan, std::uint64_t rejected_before,
               const std::atomic<bool>& stop, engine::ProgressStyle style, ValuesReport& report) {
    RangeQueue queue(plan);
    report.ranges_left = queue.size();
    report.lanes = queue.lanes_for(cfg.lanes);
    engine::InflightBudget budget(cfg.max_inflight_batches, cfg.max_inflight_bytes);
    engine::RunCounters counters(report.lanes);
    engine::RejectLimit limit(cfg.max_rejects, rejected_before);
    Lanes lanes(cfg, report.lanes, queue, budget, counters, limit, stop);
    tbb::enumerable_thread_specific<Rule> rules;  // a Rule reuses its buffers: one per parse thread

    std::vector<engine::Lane<ChatKeysBatch>> graph;
    for (unsigned k = 0; k < report.lanes; ++k)
        graph.push_back({[&, k] { return lanes.readers[k]->next(); },
                         [&, k](ChatKeysBatch& batch) { lanes.writers[k]->write(batch); }});
    auto decide = [&](ChatKeysBatch& batch) {
        decide_all(batch, rules.local());
        counters.records_read += batch.count();
        counters.bytes_read += batch.source_bytes;
    };
    const auto started = Clock::now();
    {
        engine::ProgressReporter progress(counters, style, queue.chats_left(), {"chats", "values"});
        engine::run_lanes<ChatKeysBatch>(graph, decide, cfg.parse_threads, budget);
    }
    report.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    report.interrupted = lanes.interrupted() || stop.load();
}

}  // namespace

ValuesReport backfill(const config::RunConfig& cfg, engine::Connection& control, const std::atomic<bool>& stop,
                      engine::ProgressStyle style) {
    require_column(control, cfg.schema);
    const std::vector<ChatRange> plan = starting_plan(cfg, control);
    ValuesReport report;
    report.before = load_progress(control, cfg.schema).value_or(Progress{});
    report.already_complete = report.before.complete();
    const std::uint64_t rejected_before = reject_table(cfg.schema).count(control);
    if (!report.already_complete) run_lanes(cfg, plan, rejected_before, stop, style, report);
    report.totals = load_progress(control, cfg.schema).value_or(Progress{});
    report.rejects = reject_table(cfg.schema).count(control);
    if (report.totals.complete() && cfg.max_rejects && report.rejects > *cfg.max_rejects)
        throw TooManyRejectsError(std::to_string(report.rejects) + " chats were rejected, more than --max-rejects " +
                                  std::to_string(*cfg.max_rejects) + " allows (they are in " +
                                  reject_table(cfg.schema).qualified_name() + ")");
    return report;
}

}  // namespace sluice::stages::current_message
