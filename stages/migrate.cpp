// The migrate command: phases, the backfill pipeline, and the summary an operator reads.
#include "stages/migrate.h"

#include <algorithm>
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
#include "engine/reject_table.h"
#include "engine/leftover_backends.h"
#include "engine/lock_watch.h"
#include "engine/run_lock.h"
#include "engine/sessions.h"
#include "engine/shared_snapshot.h"
#include "stages/backfill_plan.h"
#include "stages/chat_reader.h"
#include "stages/chat_writer.h"
#include "stages/check.h"
#include "stages/checkpoint.h"
#include "stages/phases.h"
#include "stages/target.h"

namespace sluice::stages {

namespace {

using config::Phase;
using Clock = std::chrono::steady_clock;

struct BackfillReport {
    Checkpoint totals;          // cumulative over every run, as the checkpoint holds them
    std::uint64_t rejects = 0;  // the rejects table's rows at the end
    std::uint64_t chats_this_run = 0;
    std::uint64_t bytes_this_run = 0;
    std::uint64_t messages_this_run = 0;
    double seconds = 0;
    unsigned lanes = 0;
    std::size_t ranges_left = 0;  // ranges this run read
    bool resumed = false;
    bool already_complete = false;
    bool interrupted = false;
    std::string rejects_table;
    std::string primary_key;  // what adding the build table's key did, if it was added
};

std::runtime_error too_many_rejects(std::uint64_t rejected, std::uint64_t limit) {
    return std::runtime_error(std::to_string(rejected) + " messages were rejected, more than --max-rejects " +
                              std::to_string(limit) + " allows (see them with sluice rejects)");
}

// Ranges for a plan: one for one lane (the whole table, as one cursor reads it), else more than
// lanes, so that a lane that finishes early takes another and the lanes end close together.
unsigned ranges_for(unsigned lanes) { return lanes <= 1 ? 1 : 4 * lanes; }

// The plan the backfill works through: its checkpoint's, unless --resync asks for every chat
// again or the checkpoint describes another table (a build table that was replaced); else a new
// one. The build table is loaded without its primary key only when every row it holds is one a
// range's checkpoint covers (a fresh, empty table, or a resumed plan): otherwise rows may be
// present, and the key goes on first so that they are found and counted, not doubled.
std::vector<ChatRange> starting_plan(const config::RunConfig& cfg, engine::Connection& control, const Target& target,
                                     std::string& key_note) {
    create_checkpoint_table(control, cfg.schema);
    std::optional<Checkpoint> start = load_checkpoint(control, cfg.schema);
    if (start && !cfg.resync && start->target == target.table) return load_ranges(control, cfg.schema);
    if (start) reset_backfill(control, cfg.schema);
    if (!has_primary_key(control, target)) {
        engine::Result any = control.exec("SELECT EXISTS (SELECT 1 FROM " + target.qualified() + ")");
        if (PQgetvalue(any.get(), 0, 0)[0] == 't') key_note = ensure_primary_key(control, target, cfg.max_rejects);
    }
    std::vector<ChatRange> plan = plan_ranges(control, cfg.schema, ranges_for(cfg.lanes));
    save_plan(control, cfg.schema, target.table, plan);
    return plan;
}

// The lanes' readers and writers, each with a connection of its own. With more than one lane
// every reader imports one exported snapshot, so that the lanes together read one consistent
// `chat`; the export ends once they all have it.
struct Lanes {
    std::vector<std::unique_ptr<ChatReader>> readers;
    std::vector<std::unique_ptr<ChatWriter>> writers;

    Lanes(const config::RunConfig& cfg, unsigned count, const Target& target, RangeQueue& queue,
          engine::InflightBudget& budget, engine::RunCounters& counters, const engine::RejectTable& rejects,
          engine::RejectLimit& limit, const std::atomic<bool>& stop) {
        std::optional<engine::SharedSnapshot> snapshot;
        if (count > 1) snapshot.emplace(cfg.db_url);
        for (unsigned k = 1; k <= count; ++k) {
            const std::string lane = count > 1 ? " " + std::to_string(k) : "";
            readers.push_back(std::make_unique<ChatReader>(
                ReaderSettings{cfg.db_url, cfg.schema, cfg.fetch_rows, cfg.batch_rows, cfg.batch_bytes,
                               snapshot ? std::optional<std::string>(snapshot->name()) : std::nullopt,
                               "reader" + lane},
                queue, budget, stop));
            writers.push_back(std::make_unique<ChatWriter>(
                WriterSettings{cfg.db_url, cfg.schema, target.table, cfg.commit_interval.every,
                               cfg.commit_interval.bytes, "writer" + lane},
                budget, counters, rejects, limit));
        }
        if (snapshot) snapshot->release();
    }
    bool interrupted() const {
        return std::any_of(writers.begin(), writers.end(), [](const auto& w) { return w->interrupted(); });
    }
};

// Reads the ranges of the plan still to do, K lanes at once, and writes their rows.
void run_lanes(const config::RunConfig& cfg, const Target& target, const std::vector<ChatRange>& plan,
               std::uint64_t rejected_before, const std::atomic<bool>& stop, BackfillReport& report) {
    RangeQueue queue(plan);
    report.ranges_left = queue.size();
    report.lanes = std::max(1u, std::min<unsigned>(cfg.lanes, static_cast<unsigned>(queue.size())));
    const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));  // once per run (SPEC §2)
    engine::InflightBudget budget(cfg.max_inflight_batches, cfg.max_inflight_bytes);
    engine::RunCounters counters;
    engine::RejectLimit limit(cfg.max_rejects, rejected_before);
    const engine::RejectTable rejects = reject_table(cfg.schema);
    Lanes lanes(cfg, report.lanes, target, queue, budget, counters, rejects, limit, stop);
    tbb::enumerable_thread_specific<ChatTransform> transforms(now, lanes.readers.front()->validate_utf8());

    std::vector<engine::Lane<ChatBatch>> graph;
    for (unsigned k = 0; k < report.lanes; ++k) {
        graph.push_back({[&, k] { return lanes.readers[k]->next(); },
                         [&, k](ChatBatch& batch) { lanes.writers[k]->write(batch); }});
    }
    auto transform = [&](ChatBatch& batch) {
        transform_batch(batch, transforms.local());
        counters.records_read += batch.chats;
        counters.bytes_read += batch.source_bytes;
    };
    auto started = Clock::now();
    {
        engine::ProgressReporter progress(counters, progress_style(cfg.progress), queue.chats_left(),
                                          {"chats", "messages"});
        engine::run_lanes<ChatBatch>(graph, transform, cfg.parse_threads, budget);
    }
    report.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    report.interrupted = lanes.interrupted() || stop.load();
}

BackfillReport backfill(const config::RunConfig& cfg, engine::Connection& control, const std::atomic<bool>& stop) {
    const Target target = current_target(control, cfg.schema);
    BackfillReport report;
    report.rejects_table = reject_table(cfg.schema).qualified_name();
    const bool had_plan = load_checkpoint(control, cfg.schema).has_value();
    std::vector<ChatRange> plan = starting_plan(cfg, control, target, report.primary_key);
    const Checkpoint before = *load_checkpoint(control, cfg.schema);
    report.resumed = had_plan && !cfg.resync && before.chats > 0;
    if (!before.complete) run_lanes(cfg, target, plan, before.rejected, stop, report);
    report.totals = *load_checkpoint(control, cfg.schema);
    if (report.totals.complete && !stop.load()) {
        if (cfg.max_rejects && report.totals.rejected > *cfg.max_rejects)
            throw too_many_rejects(report.totals.rejected, *cfg.max_rejects);
        current_target(control, cfg.schema);  // stops here if chat_message appeared meanwhile: it may hold the key's name
        std::string key = ensure_primary_key(control, target, cfg.max_rejects);
        if (!key.empty()) report.primary_key = key;
        report.totals = *load_checkpoint(control, cfg.schema);  // the key may have moved rows to the rejects
    }
    report.already_complete = before.complete && report.primary_key.empty();
    report.rejects = reject_table(cfg.schema).count(control);
    report.chats_this_run = report.totals.chats - before.chats;
    report.bytes_this_run = report.totals.bytes - before.bytes;
    report.messages_this_run = report.totals.messages - std::min(before.messages, report.totals.messages);
    return report;
}

void print_backfill(const BackfillReport& r, std::ostream& out) {
    const Checkpoint& t = r.totals;
    if (r.already_complete) {
        out << "already complete: " << t.messages << " messages from " << t.chats << " chats, " << r.rejects
            << " rejected; nothing to do (--resync derives every chat again)\n";
        return;
    }
    out << (r.interrupted ? "interrupted" : r.resumed ? "complete (resumed)" : "complete") << ": " << t.chats
        << " chats read, " << t.messages << " messages written, " << t.present << " already present, " << r.rejects
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
    if (r.lanes > 0) {
        out << "    " << r.lanes << (r.lanes == 1 ? " lane" : " lanes") << " read " << r.ranges_left << " of the plan's "
            << t.ranges << (t.ranges == 1 ? " range" : " ranges") << "\n";
    }
    if (!r.primary_key.empty()) out << "    " << r.primary_key << "\n";
    if (r.rejects > 0) {
        out << "    WARNING: " << r.rejects << " messages could not be stored; each is in table " << r.rejects_table
            << " with the reason\n";
    }
}

const char* phase_name(Phase phase) {
    switch (phase) {
        case Phase::schema: return "schema";
        case Phase::backfill: return "backfill";
        case Phase::indexes: return "indexes";
        case Phase::constraints: return "constraints";
        case Phase::publish: return "publish";
    }
    return "?";
}

// One phase on a control connection of its own; returns its lines for the summary.
std::string run_phase(Phase phase, const config::RunConfig& cfg, const std::atomic<bool>& stop, bool& interrupted) {
    engine::Connection control(cfg.db_url, "control");
    std::ostringstream what;
    switch (phase) {
        case Phase::schema: {
            std::string said;
            prepare_target(control, cfg.schema, said);
            what << said << "\n";
            break;
        }
        case Phase::backfill: {
            BackfillReport r = backfill(cfg, control, stop);
            print_backfill(r, what);
            interrupted = r.interrupted;
            break;
        }
        case Phase::indexes:
            what << build_indexes(cfg.db_url, current_target(control, cfg.schema), cfg.index_connections,
                                  cfg.max_rejects, stop)
                 << "\n";
            break;
        case Phase::constraints: what << ensure_foreign_key(control, current_target(control, cfg.schema)) << "\n"; break;
        case Phase::publish:
            what << publish(control, current_target(control, cfg.schema), cfg.stamp_alembic, cfg.max_rejects) << "\n";
            break;
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
// other phases are idempotent), until --connect-retries consecutive attempts have failed; work
// that reached the database in between refills the budget. A server never reached in this run
// is not waited for: that is a wrong address, said once.
std::string with_reconnect(const config::RunConfig& cfg, const std::atomic<bool>& stop, const char* name,
                           const std::function<std::string()>& step) {
    std::chrono::milliseconds wait(500);
    std::uint64_t marks = engine::progress_marks();
    for (unsigned attempt = 1;; ++attempt) {
        try {
            return step();
        } catch (const engine::PgError& e) {
            bool transient = e.action() == engine::ErrorAction::reconnect || e.action() == engine::ErrorAction::retry_batch;
            if (!transient || stop.load() || !engine::Connection::any_established()) throw;
            if (engine::progress_marks() != marks) {  // it got somewhere since the last failure
                marks = engine::progress_marks();
                attempt = 1;
                wait = std::chrono::milliseconds(500);
            }
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

// Takes the run's lock, or throws naming who holds it. Returns false when stopped while waiting.
bool take_lock(engine::RunLock& lock, const config::RunConfig& cfg, const std::atomic<bool>& stop) {
    std::optional<engine::LockHolder> holder =
        lock.acquire(cfg.wait_for_lock, stop, [&](const engine::LockHolder& h) {
            std::cout << "  waiting for another sluice migrate on schema " << engine::quote_ident(cfg.schema)
                      << " to finish: " << h.describe() << std::endl;
        });
    if (!holder) return true;
    if (stop.load()) return false;
    throw LockHeldError("another sluice migrate is running on schema " + engine::quote_ident(cfg.schema) +
                             ": the lock is held by " + holder->describe() + "; let it finish" +
                             (cfg.wait_for_lock.count() > 0 ? std::string(" (waited ") +
                                  engine::human_duration(cfg.wait_for_lock.count() / 1000.0) + ")"
                                                            : std::string(", or pass --wait-for-lock DURATION to wait")));
}

// The lock is lost with its connection (a server restart): take it again before going on.
void keep_lock(engine::RunLock& lock) {
    if (lock.held()) return;
    if (std::optional<engine::LockHolder> holder = lock.reacquire()) {
        throw LockHeldError("lost the run's lock with its connection, and another sluice migrate took it: " +
                                 holder->describe() + "; this run stops here, the other one goes on");
    }
}

// Backends an earlier, killed run left running on the job's tables (an index build goes on
// without its client): ended before the phases start, each named in a line.
void end_earlier_runs(const config::RunConfig& cfg) {
    engine::Connection conn(cfg.db_url, "control");
    std::vector<std::string> relations;
    for (const char* name : {kChatMessage, kBuildTable, "sluice_checkpoint", "sluice_reject"})
        relations.push_back(engine::qualified(cfg.schema, name));
    engine::end_leftovers(conn, relations, [](const std::string& line) { std::cout << "  " << line << std::endl; });
}

// The reject file is an export of the rejects table, written at the end of every run that
// reached the backfill; the table stays the record, so a failed export is a warning.
void export_rejects(const config::RunConfig& cfg) {
    try {
        engine::Connection conn(cfg.db_url, "rejects");
        engine::sessions::set_cancellable(conn.raw(), false);  // it runs after a stop request, on purpose
        std::uint64_t lines = reject_table(cfg.schema).export_to(conn, cfg.reject_file);
        if (lines > 0) std::cout << "  rejects      " << lines << " exported to " << cfg.reject_file << "\n";
    } catch (const std::exception& e) {
        std::cerr << "sluice: warning: " << e.what() << "; the rejects are safe in table sluice_reject: export them "
                     "with sluice rejects --output FILE\n";
    }
}

}  // namespace

std::string lock_key(const std::string& schema) { return "sluice migrate " + schema; }

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
    // Before anything is written: one run at a time, and an alembic_version the stamp can move.
    engine::RunLock lock(cfg.db_url, lock_key(cfg.schema));
    bool interrupted = !take_lock(lock, cfg, stop);
    if (cfg.stamp_alembic && !interrupted) {
        engine::Connection control(cfg.db_url, "control");
        check_alembic_revision(control, cfg.schema);
    }
    const bool backfills = std::find(cfg.phases.begin(), cfg.phases.end(), Phase::backfill) != cfg.phases.end();
    try {
        if (!interrupted) end_earlier_runs(cfg);
        engine::LockWatch lock_watch(cfg.db_url, [](const std::string& line) { std::cerr << "sluice: " << line << std::endl; });
        for (Phase phase : cfg.phases) {
            if (stop.load() || interrupted) break;
            auto started = Clock::now();
            std::string what;
            try {
                what = with_reconnect(cfg, stop, phase_name(phase), [&] {
                    keep_lock(lock);
                    return run_phase(phase, cfg, stop, interrupted);
                });
            } catch (const engine::PgError& e) {
                // A stop request cancels the running statement: what it did is rolled back.
                if (!stop.load() || e.sqlstate() != "57014") throw;
                interrupted = true;
                what = "interrupted: the running statement was cancelled and rolled back\n";
            }
            double seconds = std::chrono::duration<double>(Clock::now() - started).count();
            char head[64];
            std::snprintf(head, sizeof head, "  %-12s %8s  ", phase_name(phase), engine::human_duration(seconds).c_str());
            std::cout << head << what << std::flush;
        }
    } catch (...) {
        if (backfills) export_rejects(cfg);
        throw;
    }
    if (backfills) export_rejects(cfg);
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
