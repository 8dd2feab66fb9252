// The backfill: the plan it works through (resumed from its checkpoint or made anew), the lanes of
// readers and writers wired into the engine's pipeline, and what the run did, for the summary.
#include "stages/chat_message/backfill.h"

#include <oneapi/tbb/enumerable_thread_specific.h>
#include <algorithm>
#include <ctime>
#include <memory>

#include "engine/lane_set.h"
#include "engine/reject_table.h"
#include "stages/chat_message/chat_reader.h"
#include "stages/chat_message/chat_writer.h"
#include "stages/chat_message/duplicate_ids.h"
#include "stages/chat_message/phases.h"
#include "stages/chat_message/target.h"
#include "stages/openwebui.h"
#include "stages/shared/backfill_plan.h"
#include "stages/shared/too_many_rejects.h"

namespace sluice::stages {

namespace {

TooManyRejectsError too_many_rejects(std::uint64_t rejected, std::uint64_t limit) {
    return TooManyRejectsError(std::to_string(rejected) + " messages were rejected, more than --max-rejects " +
                               std::to_string(limit) + " allows (see them with sluice rejects)");
}

// Ranges for a plan: one for one lane (the whole table, as one cursor reads it), else more than
// lanes, so that a lane that finishes early takes another and the lanes end close together.
unsigned ranges_for(unsigned lanes) {
    return lanes <= 1 ? 1 : 4 * lanes;
}

// The plan the backfill works through: its checkpoint's, unless --resync asks for every chat
// again or the checkpoint describes another table (a build table that was dropped and created
// again is another table: its oid differs); else a new one, and the old plan's rejects go. The
// build table is loaded without its primary key only by lanes, and only when every row it holds
// is one a range's checkpoint covers (a fresh, empty table, or a resumed plan): otherwise rows may
// be present, and the key goes on first so that they are found and counted, not doubled.
// The checkpoint is read once, here: `before` is what it holds as the lanes start.
struct Start {
    std::vector<ChatRange> plan;
    Checkpoint before;
    bool had_plan = false;
};
Start starting_plan(const config::JobSettings& cfg, engine::Connection& control, const Target& target,
                    std::string& key_note) {
    create_checkpoint_table(control, cfg.schema);
    std::optional<SavedPlan> saved = load_saved_plan(control, cfg.schema);
    if (saved && !cfg.resync && saved->total.describes(target.table))
        return {std::move(saved->ranges), std::move(saved->total), true};
    if (saved) reset_backfill(control, cfg.schema);
    if (!has_primary_key(control, target)) {
        engine::Result any = control.exec("SELECT EXISTS (SELECT 1 FROM " + target.qualified() + ")");
        const bool rows_present = PQgetvalue(any.get(), 0, 0)[0] == 't';
        // One lane also takes the key first: its upkeep then runs beside the reading and parsing,
        // where adding it after the load is a step of its own that nothing overlaps (on 2 cores
        // the backfill took 1.2x as long so; many cores gain from loading without it over lanes).
        // Not for --resync: a key would make it replace rows, and index chat_id, in an empty table.
        if (rows_present || (cfg.lanes <= 1 && !cfg.resync))
            key_note = ensure_primary_key(control, target, cfg.max_rejects);
        // The plan to come derives every chat again: it finds what the key moved out again.
        if (rows_present) reject_table(cfg.schema).clear(control);
    }
    if (cfg.resync && has_primary_key(control, target)) {
        const std::string built = ensure_chat_id_index(control, target);
        if (!built.empty()) key_note += (key_note.empty() ? "" : "; ") + built;
    }
    // One range is the whole table, as the checks counted it when they did.
    std::vector<ChatRange> plan = plan_ranges<ChatRange>(control, cfg.schema, ranges_for(cfg.lanes),
                                                         openwebui::kSelectedChats, "id", cfg.selected_chats);
    save_plan(control, cfg.schema, target.table, plan);
    Checkpoint before = sum_of(plan, target.table, /*bound=*/true);  // as it now reads: nothing committed
    return {std::move(plan), std::move(before), saved.has_value()};
}

// Reads the ranges of the plan still to do, K lanes at once, and writes their rows; with
// `replace` (--resync on a table that may hold rows already) each chat's rows are made exactly
// what it derives.
void run_lanes(const config::JobSettings& cfg, const Target& target, bool replace, const std::vector<ChatRange>& plan,
               std::uint64_t rejected_before, std::int64_t now, const std::atomic<bool>& stop,
               engine::ProgressStyle style, BackfillReport& report) {
    RangeQueue queue(plan);
    report.ranges_left = queue.size();
    report.lanes = queue.lanes_for(cfg.lanes);
    const engine::RejectTable rejects = reject_table(cfg.schema);
    engine::LaneSet<ChatReader, ChatWriter> lanes({cfg.db_url, report.lanes, cfg.parse_threads,
                                                   cfg.max_inflight_batches, cfg.max_inflight_bytes, cfg.max_rejects,
                                                   rejected_before, std::nullopt});
    lanes.build([&](const engine::LaneSeat& seat) {
        auto reader =
            std::make_unique<ChatReader>(ReaderSettings{cfg.db_url, cfg.schema, cfg.fetch_rows, cfg.batch_rows,
                                                        cfg.batch_bytes, seat.snapshot, "reader" + seat.suffix},
                                         queue, lanes.budget(), stop);
        auto writer = std::make_unique<ChatWriter>(
            WriterSettings{cfg.db_url, cfg.schema, target.table, cfg.commit_interval.every, cfg.commit_interval.bytes,
                           "writer" + seat.suffix, seat.index, replace, now, &reader->held_up(), seat.several},
            lanes.budget(), lanes.counters(), rejects, lanes.limit());
        return std::make_pair(std::move(reader), std::move(writer));
    });
    tbb::enumerable_thread_specific<ChatTransform> transforms(now, lanes.reader(0).validate_utf8());
    auto transform = [&](ChatBatch& batch) {
        transform_batch(batch, transforms.local(), /*large_values_in_place=*/true);
        return engine::Taken{batch.chats, batch.source_bytes};
    };
    report.seconds = lanes.run(transform, style, queue.chats_left(), {"chats", "messages"});
    report.interrupted = lanes.interrupted() || stop.load();
    for (const auto& writer : lanes.writers()) {
        report.updated += writer->updated();
        report.removed += writer->removed();
    }
}

}  // namespace

BackfillReport backfill(const config::JobSettings& cfg, engine::Connection& control, const std::atomic<bool>& stop,
                        engine::ProgressStyle style, std::optional<Checkpoint>& baseline) {
    const Target target = current_target(control, cfg.schema);
    BackfillReport report;
    report.rejects_table = reject_table(cfg.schema).qualified_name();
    Start start = starting_plan(cfg, control, target, report.primary_key);
    const std::vector<ChatRange>& plan = start.plan;
    const Checkpoint& before = start.before;
    if (!baseline) baseline = before;
    report.resumed = start.had_plan && !cfg.resync && before.chats > 0;
    const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));  // once per run (SPEC §2)
    // A table loaded without its key holds nothing that a chat could have left behind.
    const bool replace = cfg.resync && has_primary_key(control, target);
    if (!before.complete) run_lanes(cfg, target, replace, plan, before.rejected, now, stop, style, report);
    report.totals = *load_checkpoint(control, cfg.schema);
    if (report.totals.complete && !stop.load()) {
        if (cfg.max_rejects && report.totals.rejected > *cfg.max_rejects)
            throw too_many_rejects(report.totals.rejected, *cfg.max_rejects);
        current_target(control,
                       cfg.schema);  // stops here if chat_message appeared meanwhile: it may hold the key's name
        std::string key = ensure_primary_key(control, target, cfg.max_rejects);
        if (!key.empty()) report.primary_key = key;
        // Duplicate ids whose row is not the one of the chat that sorts first (SPEC §4).
        if (std::string settled = settle_duplicate_ids(control, target, now); !settled.empty())
            report.primary_key += (report.primary_key.empty() ? "" : "; ") + settled;
        report.totals = *load_checkpoint(control, cfg.schema);  // the key may have moved rows to the rejects
    }
    report.already_complete = before.complete && report.primary_key.empty();
    report.rejects = reject_table(cfg.schema).count(control);
    report.chats_this_run = report.totals.chats - before.chats;
    report.bytes_this_run = report.totals.bytes - before.bytes;
    report.messages_this_run = report.totals.messages - std::min(before.messages, report.totals.messages);
    return report;
}

}  // namespace sluice::stages
