// The plan, the lanes wired into the engine's pipeline, and the report.
#include "stages/current_message/backfill.h"

#include <oneapi/tbb/enumerable_thread_specific.h>
#include <memory>
#include <stdexcept>

#include "engine/lane_set.h"
#include "stages/current_message/phases.h"
#include "stages/current_message/range_reader.h"
#include "stages/current_message/range_writer.h"
#include "stages/openwebui.h"
#include "stages/shared/backfill_plan.h"
#include "stages/shared/too_many_rejects.h"

namespace sluice::stages::current_message {

namespace {

// One range for one lane (one cursor reads the table), else more than lanes, so that a lane that
// finishes early takes another and the lanes end close together (as the first job plans).
unsigned ranges_for(unsigned lanes) {
    return lanes <= 1 ? 1 : 4 * lanes;
}

// The checkpoint's plan, else a new one over every chat (none is left out at this revision), its
// bounds in byte order as the reader reads them.
std::vector<ValueRange> starting_plan(const config::JobSettings& cfg, engine::Connection& control) {
    create_state_tables(control, cfg.schema);
    std::vector<ValueRange> plan = load_plan(control, cfg.schema);
    if (!plan.empty()) return plan;
    plan = plan_ranges<ValueRange>(control, cfg.schema, ranges_for(cfg.lanes), "", "id COLLATE \"C\"");
    save_plan(control, cfg.schema, plan);
    return plan;  // as saved: nothing committed yet
}

void run_lanes(const config::JobSettings& cfg, const std::vector<ValueRange>& plan, std::uint64_t rejected_before,
               const std::atomic<bool>& stop, engine::ProgressStyle style, ValuesReport& report) {
    RangeQueue queue(plan);
    report.ranges_left = queue.size();
    report.lanes = queue.lanes_for(cfg.lanes);
    engine::LaneSet<RangeReader, RangeWriter> lanes({cfg.db_url, report.lanes, cfg.parse_threads,
                                                     cfg.max_inflight_batches, cfg.max_inflight_bytes, cfg.max_rejects,
                                                     rejected_before, std::nullopt});
    lanes.build([&](const engine::LaneSeat& seat) {
        ChatKeysSettings read{cfg.db_url,      cfg.schema,    cfg.fetch_rows,        cfg.batch_rows,
                              cfg.batch_bytes, seat.snapshot, "reader" + seat.suffix};
        RangeWriterSettings write{
            cfg.db_url, cfg.schema, cfg.commit_interval.every, cfg.commit_interval.bytes, "writer" + seat.suffix,
            seat.index};
        return std::make_pair(std::make_unique<RangeReader>(read, queue, lanes.budget(), stop),
                              std::make_unique<RangeWriter>(write, lanes.budget(), lanes.counters(), lanes.limit()));
    });
    tbb::enumerable_thread_specific<Rule> rules;  // a Rule reuses its buffers: one per parse thread
    auto decide = [&](ChatKeysBatch& batch) {
        decide_all(batch, rules.local());
        return engine::Taken{batch.count(), batch.source_bytes};
    };
    report.seconds = lanes.run(decide, style, queue.chats_left(), {"chats", "values"});
    report.interrupted = lanes.interrupted() || stop.load();
}

}  // namespace

ValuesReport backfill(const config::JobSettings& cfg, engine::Connection& control, const std::atomic<bool>& stop,
                      engine::ProgressStyle style) {
    require_column(control, cfg.schema);
    const std::vector<ValueRange> plan = starting_plan(cfg, control);
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
