// The second job's verify command: ChatKeysReader and Rule in the engine's pipeline, ValueCheck in
// the writer's place, the known rejects, and the report an operator reads.
#include "stages/commands/verify_values.h"

#include <oneapi/tbb/enumerable_thread_specific.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "engine/budget.h"
#include "engine/pg.h"
#include "engine/pipeline.h"
#include "engine/progress.h"
#include "stages/chat_message/known_rejects.h"
#include "stages/chat_message/target.h"
#include "stages/commands/common.h"
#include "stages/current_message/chat_keys_reader.h"
#include "stages/current_message/value_writer.h"
#include "stages/current_message/verify_values.h"
#include "stages/openwebui.h"

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

// Reads, decides and checks every chat in `conn`'s snapshot (exported to the reader).
cm::ValueCheckTally check_all(const config::RunConfig& cfg, engine::Connection& conn, KnownRejects& rejects,
                              const std::atomic<bool>& stop, bool& interrupted) {
    engine::Result snapshot = conn.exec("SELECT pg_export_snapshot()");
    engine::Result chats = conn.exec("SELECT count(*) FROM " + engine::qualified(cfg.schema, openwebui::kChat));
    engine::InflightBudget budget(cfg.max_inflight_batches, cfg.max_inflight_bytes);
    engine::RunCounters counters;
    cm::ChatKeysReader reader({cfg.db_url, cfg.schema, cfg.fetch_rows, cfg.batch_rows, cfg.batch_bytes,
                               std::string(PQgetvalue(snapshot.get(), 0, 0)), "verify reader"});
    reader.open(cm::IdRange{});
    cm::ValueCheck check([&rejects](std::string_view chat_id) { return rejects.contains(chat_id); });
    tbb::enumerable_thread_specific<cm::Rule> rules;
    std::uint64_t seq = 0;

    engine::Lane<cm::ChatKeysBatch> lane;
    lane.read = [&] {
        auto batch = std::make_unique<cm::ChatKeysBatch>();
        batch->seq = seq++;
        // One batch's place, its bytes not known before it is read: batch_bytes bounds them.
        if (stop.load() || !budget.take(0, true)) {
            interrupted = true;
            batch->kind = engine::BatchKind::end;
        } else if (!reader.next(*batch)) {
            budget.give_back(1, 0);
            batch->kind = engine::BatchKind::end;
        }
        return batch;
    };
    auto decide = [&](cm::ChatKeysBatch& batch) {
        cm::decide_all(batch, rules.local());
        counters.records_read += batch.count();
        counters.bytes_read += batch.source_bytes;
    };
    lane.write = [&](cm::ChatKeysBatch& batch) {
        if (batch.kind != engine::BatchKind::data) return;
        check.check(batch);
        counters.rows_written += batch.count();
        budget.give_back(1, 0);
    };
    {
        engine::ProgressReporter progress(counters, progress_style(cfg.progress),
                                          std::strtoull(PQgetvalue(chats.get(), 0, 0), nullptr, 10),
                                          {"chats", "chats"});
        engine::run_lanes<cm::ChatKeysBatch>({lane}, decide, cfg.parse_threads, budget);
    }
    if (!interrupted) reader.finish();
    return check.tally();
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
