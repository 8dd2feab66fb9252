// The migrate command: phases, the backfill pipeline, and the summary an operator reads.
#include "stages/migrate.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <iostream>
#include <thread>
#include <oneapi/tbb/enumerable_thread_specific.h>
#include <sstream>

#include "engine/budget.h"
#include "engine/pipeline.h"
#include "engine/progress.h"
#include "engine/reject_file.h"
#include "stages/chat_reader.h"
#include "stages/chat_writer.h"
#include "stages/checkpoint.h"
#include "stages/phases.h"

namespace sluice::stages {

namespace {

using config::Phase;
using Clock = std::chrono::steady_clock;

struct BackfillReport {
    Checkpoint totals;          // cumulative over every run, as the checkpoint holds them
    std::uint64_t chats_this_run = 0;
    std::uint64_t bytes_this_run = 0;
    std::uint64_t messages_this_run = 0;
    double seconds = 0;
    bool resumed = false;
    bool already_complete = false;
    bool interrupted = false;
    std::string reject_file;
};

BackfillReport backfill(const config::RunConfig& cfg, engine::Connection& control, const std::atomic<bool>& stop) {
    BackfillReport report;
    report.reject_file = cfg.reject_file;
    if (!chat_message_exists(control, cfg.schema)) {
        throw std::runtime_error(engine::qualified(cfg.schema, "chat_message") +
                                 " does not exist: run the schema phase first (--phases schema,backfill)");
    }
    create_checkpoint_table(control, cfg.schema);
    std::optional<Checkpoint> start = load_checkpoint(control, cfg.schema);
    if (start && start->complete) {
        report.totals = *start;
        report.already_complete = true;
        return report;
    }
    report.resumed = start.has_value();
    Checkpoint from = start.value_or(Checkpoint{});

    const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));  // once per run (SPEC §2)
    engine::RejectFile rejects(cfg.reject_file, from.rejected, "id", "chat_id");
    engine::InflightBudget budget(cfg.max_inflight_batches, cfg.max_inflight_bytes);
    engine::RunCounters counters;
    ChatReader reader({cfg.db_url, cfg.schema, cfg.fetch_rows, cfg.batch_rows, cfg.batch_bytes, from.last_chat_id},
                      budget, stop);
    ChatWriter writer({cfg.db_url, cfg.schema, cfg.commit_interval.every, cfg.commit_interval.bytes, cfg.max_rejects},
                      budget, counters, rejects, from);
    tbb::enumerable_thread_specific<ChatTransform> transforms(now, reader.validate_utf8());

    engine::PipelineStages<ChatBatch> pipeline;
    pipeline.read = [&] { return reader.next(); };
    pipeline.transform = [&](ChatBatch& batch) {
        transform_batch(batch, transforms.local());
        counters.records_read += batch.chats;
        counters.bytes_read += batch.source_bytes;
    };
    pipeline.write = [&](ChatBatch& batch) { writer.write(batch); };

    auto started = Clock::now();
    {
        engine::ProgressReporter progress(counters, progress_style(cfg.progress), reader.chats_to_read(),
                                          {"chats", "messages"});
        engine::run_pipeline(pipeline, cfg.parse_threads, budget);
    }
    report.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    report.totals = writer.committed();
    report.interrupted = writer.interrupted();
    report.chats_this_run = report.totals.chats - from.chats;
    report.bytes_this_run = report.totals.bytes - from.bytes;
    report.messages_this_run = report.totals.messages - from.messages;
    return report;
}

void print_backfill(const BackfillReport& r, std::ostream& out) {
    const Checkpoint& t = r.totals;
    if (r.already_complete) {
        out << "already complete: " << t.messages << " messages from " << t.chats << " chats; nothing to do\n";
        return;
    }
    out << (r.interrupted ? "interrupted" : r.resumed ? "complete (resumed)" : "complete") << ": " << t.chats
        << " chats read, " << t.messages << " messages written, " << t.present << " already present, " << t.rejected
        << " rejected\n";
    std::ostringstream rules;
    for (std::size_t i = 0; i < kSkipRules; ++i) {
        if (t.skipped[i] == 0) continue;
        rules << "\n      " << t.skipped[i] << "  " << skip_rule_name(static_cast<SkipRule>(i));
    }
    if (!rules.str().empty()) out << "    skipped by rule:" << rules.str() << "\n";
    double secs = r.seconds > 0 ? r.seconds : 1e-9;
    char line[200];
    std::snprintf(line, sizeof line, "    this run: %llu chats, %s of chat JSON, %.0f messages/s, %.1f MB/s\n",
                  static_cast<unsigned long long>(r.chats_this_run), engine::human_bytes(r.bytes_this_run).c_str(),
                  r.messages_this_run / secs, r.bytes_this_run / secs / (1 << 20));
    out << line;
    if (t.rejected > 0) {
        out << "    WARNING: " << t.rejected << " messages could not be stored; each is in " << r.reject_file
            << " with the reason\n";
    }
}

}  // namespace

namespace {

const char* phase_name(Phase phase) {
    switch (phase) {
        case Phase::schema: return "schema";
        case Phase::backfill: return "backfill";
        case Phase::indexes: return "indexes";
        case Phase::constraints: return "constraints";
    }
    return "?";
}

// One phase on a control connection of its own; returns its lines for the summary.
std::string run_phase(Phase phase, const config::RunConfig& cfg, const std::atomic<bool>& stop, bool& interrupted) {
    engine::Connection control(cfg.db_url, "control");
    std::ostringstream what;
    switch (phase) {
        case Phase::schema: what << ensure_schema(control, cfg.schema) << "\n"; break;
        case Phase::backfill: {
            BackfillReport r = backfill(cfg, control, stop);
            print_backfill(r, what);
            interrupted = r.interrupted;
            break;
        }
        case Phase::indexes: what << build_indexes(cfg.db_url, cfg.schema, cfg.index_connections) << "\n"; break;
        case Phase::constraints: what << ensure_foreign_key(control, cfg.schema) << "\n"; break;
    }
    return what.str();
}

void sleep_unless_stopped(std::chrono::milliseconds wait, const std::atomic<bool>& stop) {
    for (auto until = Clock::now() + wait; Clock::now() < until && !stop.load();) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

// A lost connection or a restarting server does not end the run: the step runs again after an
// exponential backoff, from what is committed (the backfill resumes at its checkpoint, the
// other phases are idempotent), until --connect-retries attempts have failed. A server never
// reached in this run is not waited for: that is a wrong address, said once.
std::string with_reconnect(const config::RunConfig& cfg, const std::atomic<bool>& stop, const char* name,
                           const std::function<std::string()>& step) {
    std::chrono::milliseconds wait(500);
    for (unsigned attempt = 1;; ++attempt) {
        try {
            return step();
        } catch (const engine::PgError& e) {
            bool transient = e.action() == engine::ErrorAction::reconnect || e.action() == engine::ErrorAction::retry_batch;
            if (!transient || stop.load() || !engine::Connection::any_established()) throw;
            if (attempt > cfg.connect_retries) {
                std::cerr << "sluice: " << name << ": giving up after " << attempt << " attempts\n";
                throw;
            }
            std::cerr << "sluice: " << name << ": " << e.what() << "; trying again in "
                      << engine::human_duration(wait.count() / 1000.0) << " (retry " << attempt << " of "
                      << cfg.connect_retries << ")\n";
            sleep_unless_stopped(wait, stop);
            wait = std::min(wait * 2, cfg.retry_max_wait);
        }
    }
}

}  // namespace

engine::ProgressStyle progress_style(config::ProgressStyle s) {
    switch (s) {
        case config::ProgressStyle::bar: return engine::ProgressStyle::bar;
        case config::ProgressStyle::log: return engine::ProgressStyle::log;
        case config::ProgressStyle::none: return engine::ProgressStyle::none;
        case config::ProgressStyle::automatic: break;
    }
    return engine::style_for_stderr();
}

int migrate(const config::RunConfig& cfg, const std::atomic<bool>& stop) {
    auto run_started = Clock::now();
    std::cout << "sluice migrate: schema " << engine::quote_ident(cfg.schema) << "\n";
    bool interrupted = false;
    for (Phase phase : cfg.phases) {
        if (stop.load() || interrupted) break;
        auto started = Clock::now();
        std::string what = with_reconnect(cfg, stop, phase_name(phase),
                                          [&] { return run_phase(phase, cfg, stop, interrupted); });
        double seconds = std::chrono::duration<double>(Clock::now() - started).count();
        char head[64];
        std::snprintf(head, sizeof head, "  %-12s %8s  ", phase_name(phase), engine::human_duration(seconds).c_str());
        std::cout << head << what << std::flush;
    }
    if (cfg.stamp_alembic && !interrupted && !stop.load()) {
        std::string what = with_reconnect(cfg, stop, "alembic", [&] {
            engine::Connection control(cfg.db_url, "control");
            return stamp_alembic(control, cfg.schema);
        });
        std::cout << "  alembic               " << what << "\n";
    }
    double total = std::chrono::duration<double>(Clock::now() - run_started).count();
    std::cout << "  peak memory  " << engine::human_bytes(engine::peak_rss_bytes()) << "\n";
    if (interrupted || stop.load()) {
        std::cout << "sluice migrate: interrupted after " << engine::human_duration(total)
                  << "; committed work is kept, run the same command again to resume\n";
        return kExitInterrupted;
    }
    std::cout << "sluice migrate: done in " << engine::human_duration(total) << "\n";
    return 0;
}

}  // namespace sluice::stages
