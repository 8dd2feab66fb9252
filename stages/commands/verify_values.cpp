// The second job's verify command: one lane of RangeReader and Rule, as migrate's, with ValueCheck in
// the writer's place, the known rejects, and the report an operator reads.
#include "stages/commands/verify_values.h"

#include <oneapi/tbb/enumerable_thread_specific.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "engine/budget.h"
#include "engine/lane_set.h"
#include "engine/pg.h"
#include "engine/progress.h"
#include "stages/chat_message/known_rejects.h"
#include "stages/chat_message/target.h"
#include "stages/commands/common.h"
#include "stages/current_message/range_reader.h"
#include "stages/current_message/value_writer.h"
#include "stages/current_message/verify_values.h"
#include "stages/openwebui.h"
#include "stages/shared/backfill_plan.h"
#include "stages/shared/catalog.h"

namespace sluice::stages {

namespace {

namespace cm = current_message;
using Clock = std::chrono::steady_clock;

// The column this job fills; throws one line when `chat` or the column is not there.
void require_column(engine::Connection& conn, const std::string& schema) {
    const std::string chat = engine::qualified(schema, openwebui::kChat);
    if (!relation_exists(conn, schema, openwebui::kChat))
        throw std::runtime_error(
            "there is no table " + chat +
            ": is this Open WebUI's database, and is the schema right (--schema, DATABASE_SCHEMA)?");
    engine::Result r = conn.exec(
        "SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'current_message_id'"
        " AND NOT attisdropped",
        {chat});
    if (std::string_view(PQgetvalue(r.get(), 0, 0)) != "1")
        throw std::runtime_error(
            chat + " has no column current_message_id: nothing migrated yet: run sluice migrate --revision " +
            openwebui::kCurrentMessageRevisionAfter);
}

// ValueCheck in the writer's place of a lane: it checks each decided batch and gives its budget
// back. Serial: the lane's writer thread alone calls write().
class CheckStage {
public:
    CheckStage(KnownRejects& rejects, engine::InflightBudget& budget, engine::RunCounters& counters)
        : check_([&rejects](std::string_view chat_id) { return rejects.contains(chat_id); }),
          budget_(budget),
          counters_(counters) {}
    void write(cm::ChatKeysBatch& batch) {
        if (batch.kind == engine::BatchKind::end) interrupted_ = batch.interrupted;
        if (batch.kind != engine::BatchKind::data) return;
        check_.check(batch);
        counters_.rows_written += batch.count();
        budget_.give_back(1, batch.budget_bytes);  // this batch is done with: the reader may read on
    }
    bool interrupted() const { return interrupted_; }
    const cm::ValueCheckTally& tally() const { return check_.tally(); }

private:
    cm::ValueCheck check_;
    engine::InflightBudget& budget_;
    engine::RunCounters& counters_;
    bool interrupted_ = false;
};

// Reads, decides and checks every chat in `conn`'s snapshot (exported to the reader), through one
// lane of the backfill's kind with the check in the writer's place.
cm::ValueCheckTally check_all(const config::RunConfig& cfg, engine::Connection& conn, KnownRejects& rejects,
                              const std::atomic<bool>& stop, bool& interrupted) {
    engine::Result snapshot = conn.exec("SELECT pg_export_snapshot()");
    // One range, every chat counted for the display, its bounds in byte order as the reader's.
    RangeQueue whole(plan_ranges<current_message::ValueRange>(conn, cfg.schema, 1, "", "id COLLATE \"C\""));
    engine::LaneSet<cm::RangeReader, CheckStage> lane({cfg.db_url, 1, cfg.parse_threads, cfg.max_inflight_batches,
                                                       cfg.max_inflight_bytes, std::nullopt, 0,
                                                       std::string(PQgetvalue(snapshot.get(), 0, 0))});
    lane.build([&](const engine::LaneSeat& seat) {
        cm::ChatKeysSettings read{cfg.db_url,
                                  cfg.schema,
                                  cfg.fetch_rows,
                                  cfg.batch_rows,
                                  cfg.batch_bytes,
                                  seat.snapshot,
                                  "verify reader" + seat.suffix};
        return std::make_pair(std::make_unique<cm::RangeReader>(read, whole, lane.budget(), stop),
                              std::make_unique<CheckStage>(rejects, lane.budget(), lane.counters()));
    });
    tbb::enumerable_thread_specific<cm::Rule> rules;
    auto decide = [&](cm::ChatKeysBatch& batch) {
        cm::decide_all(batch, rules.local());
        return engine::Taken{batch.count(), batch.source_bytes};
    };
    lane.run(decide, progress_style(cfg.progress), whole.chats_left(), {"chats", "chats"});
    interrupted = lane.interrupted();
    return lane.writers().front()->tally();
}

void print_listed(const engine::Listed& listed) {
    for (const std::string& what : listed.first)
        std::cout << "               " << what << "\n";
    if (listed.count > listed.first.size())
        std::cout << "               ... and " << listed.count - listed.first.size() << " more\n";
}

void print_report(const cm::ValueCheckTally& t, const KnownRejects& rejects) {
    std::cout << "  chats        " << t.chats << " read: " << t.agree << " agree with the rule, " << t.disagree.count
              << " disagree, " << t.rejected << " rejected\n";
    print_listed(t.disagree);
    if (t.unrecorded.count > 0) {
        std::cout << "  unrecorded   " << t.unrecorded.count
                  << " chats upstream would raise on are not in the known rejects\n";
        print_listed(t.unrecorded);
    }
    if (rejects.found())
        std::cout << "  rejects      " << rejects.size() << " known, from " << rejects.source() << "\n";
    else
        std::cout << "  rejects      " << rejects.source() << "\n";
    if (t.disagree.count > 0)
        std::cout << "  hint         run sluice migrate --revision " << openwebui::kCurrentMessageRevisionAfter
                  << " to write the values the rule gives\n";
    if (t.unrecorded.count > 0 && !rejects.found())
        std::cout << "  hint         pass the rejects' export (sluice cleanup writes one) with --rejects-from FILE\n";
}

ValueVerifyFigures figures_of(const cm::ValueCheckTally& t, const KnownRejects& rejects) {
    ValueVerifyFigures f;
    f.chats = t.chats;
    f.agree = t.agree;
    f.disagree = t.disagree.count;
    f.rejected = t.rejected;
    f.unrecorded_rejects = t.unrecorded.count;
    f.rejects_from = rejects.source();
    f.known_rejects = rejects.size();
    return f;
}

}  // namespace

int verify_values(const config::RunConfig& cfg, const std::atomic<bool>& stop, RunSummary& summary) {
    const auto started = Clock::now();
    engine::Connection conn(cfg.db_url, "verify");
    std::cout << "sluice verify: schema " << engine::quote_ident(cfg.schema) << ", chat.current_message_id ("
              << openwebui::kCurrentMessageRevisionAfter << ")\n";
    refuse_verify_while_migrating(conn, cfg.schema, [] { return std::string(); });
    require_column(conn, cfg.schema);
    // One snapshot for the reader and the rejects.
    conn.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    KnownRejects rejects(conn, cm::reject_table(cfg.schema), cfg.rejects_from);
    if (!cfg.rejects_from.empty())
        std::cout << "  note         the known rejects come from " << rejects.source() << "\n";
    bool interrupted = false;
    const cm::ValueCheckTally t = check_all(cfg, conn, rejects, stop, interrupted);
    conn.exec("COMMIT");
    print_report(t, rejects);
    summary.value_verify = figures_of(t, rejects);
    std::cout << "  peak memory  " << engine::human_bytes(engine::peak_rss_bytes()) << "\n";
    const std::string took = engine::human_duration(std::chrono::duration<double>(Clock::now() - started).count());
    if (interrupted || stop.load()) {
        summary.verdict = "interrupted after " + took + "; the counts cover the chats read so far";
        std::cout << "sluice verify: " << summary.verdict << "\n";
        return kExitInterrupted;
    }
    summary.verdict =
        t.agrees() ? "chat.current_message_id agrees with the rule"
                   : "chat.current_message_id does not agree with the rule: " + std::to_string(t.disagree.count) +
                         " chats disagree, " + std::to_string(t.unrecorded.count) + " unrecorded rejects";
    std::cout << "sluice verify: " << summary.verdict << " (" << took << ")\n";
    return t.agrees() ? 0 : config::kExitDisagrees;
}

}  // namespace sluice::stages
