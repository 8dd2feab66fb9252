// The migrate command: the lock, the banner and the preflight, the phases on the progress display,
// the backfill pipeline, and the figures of the summary an operator reads.
#include "stages/commands/migrate.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <thread>
#include <oneapi/tbb/enumerable_thread_specific.h>

#include "engine/budget.h"
#include "engine/leftover_backends.h"
#include "engine/lock_keeper.h"
#include "engine/lock_watch.h"
#include "engine/log.h"
#include "engine/pipeline.h"
#include "engine/progress.h"
#include "engine/reject_table.h"
#include "engine/run_fence.h"
#include "engine/run_lock.h"
#include "engine/sessions.h"
#include "engine/shared_snapshot.h"
#include "engine/words.h"
#include "stages/chat_message/already_migrated.h"
#include "stages/chat_message/app_owner.h"
#include "stages/chat_message/backfill_plan.h"
#include "stages/chat_message/chat_reader.h"
#include "stages/chat_message/chat_writer.h"
#include "stages/chat_message/checkpoint.h"
#include "stages/chat_message/duplicate_ids.h"
#include "stages/chat_message/phases.h"
#include "stages/chat_message/target.h"
#include "stages/chat_message/too_many_rejects.h"
#include "stages/commands/preflight.h"
#include "stages/commands/reject_file_name.h"
#include "stages/commands/run_banner.h"
#include "stages/commands/run_summary.h"

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
    std::uint64_t updated = 0, removed = 0;  // rows --resync updated and removed this run
};

TooManyRejectsError too_many_rejects(std::uint64_t rejected, std::uint64_t limit) {
    return TooManyRejectsError(std::to_string(rejected) + " messages were rejected, more than --max-rejects " +
                              std::to_string(limit) + " allows (see them with sluice rejects)");
}

// Ranges for a plan: one for one lane (the whole table, as one cursor reads it), else more than
// lanes, so that a lane that finishes early takes another and the lanes end close together.
unsigned ranges_for(unsigned lanes) { return lanes <= 1 ? 1 : 4 * lanes; }

// The plan the backfill works through: its checkpoint's, unless --resync asks for every chat
// again or the checkpoint describes another table (a build table that was dropped and created
// again is another table: its oid differs); else a new one, and the old plan's rejects go. The
// build table is loaded without its primary key only by lanes, and only when every row it holds
// is one a range's checkpoint covers (a fresh, empty table, or a resumed plan): otherwise rows may
// be present, and the key goes on first so that they are found and counted, not doubled.
std::vector<ChatRange> starting_plan(const config::RunConfig& cfg, engine::Connection& control, const Target& target,
                                     std::string& key_note) {
    create_checkpoint_table(control, cfg.schema);
    std::optional<Checkpoint> start = load_checkpoint(control, cfg.schema);
    if (start && !cfg.resync && start->describes(target.table)) return load_ranges(control, cfg.schema);
    if (start) reset_backfill(control, cfg.schema);
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

    Lanes(const config::RunConfig& cfg, unsigned count, const Target& target, bool replace, std::int64_t now,
          RangeQueue& queue, engine::InflightBudget& budget, engine::RunCounters& counters,
          const engine::RejectTable& rejects, engine::RejectLimit& limit, const std::atomic<bool>& stop) {
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
                               cfg.commit_interval.bytes, "writer" + lane, k - 1, replace, now},
                budget, counters, rejects, limit));
        }
        if (snapshot) snapshot->release();
    }
    bool interrupted() const {
        return std::any_of(writers.begin(), writers.end(), [](const auto& w) { return w->interrupted(); });
    }
};

// Reads the ranges of the plan still to do, K lanes at once, and writes their rows; with
// `replace` (--resync on a table that may hold rows already) each chat's rows are made exactly
// what it derives.
void run_lanes(const config::RunConfig& cfg, const Target& target, bool replace, const std::vector<ChatRange>& plan,
               std::uint64_t rejected_before, std::int64_t now, const std::atomic<bool>& stop, BackfillReport& report) {
    RangeQueue queue(plan);
    report.ranges_left = queue.size();
    report.lanes = std::max(1u, std::min<unsigned>(cfg.lanes, static_cast<unsigned>(queue.size())));
    engine::InflightBudget budget(cfg.max_inflight_batches, cfg.max_inflight_bytes);
    engine::RunCounters counters(report.lanes);
    engine::RejectLimit limit(cfg.max_rejects, rejected_before);
    const engine::RejectTable rejects = reject_table(cfg.schema);
    Lanes lanes(cfg, report.lanes, target, replace, now, queue, budget, counters, rejects, limit, stop);
    tbb::enumerable_thread_specific<ChatTransform> transforms(now, lanes.readers.front()->validate_utf8());

    std::vector<engine::Lane<ChatBatch>> graph;
    for (unsigned k = 0; k < report.lanes; ++k) {
        graph.push_back({[&, k] { return lanes.readers[k]->next(); },
                         [&, k](ChatBatch& batch) { lanes.writers[k]->write(batch); }});
    }
    auto transform = [&](ChatBatch& batch) {
        transform_batch(batch, transforms.local(), /*large_values_in_place=*/true);
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
    for (const auto& writer : lanes.writers) {
        report.updated += writer->updated();
        report.removed += writer->removed();
    }
}

BackfillReport backfill(const config::RunConfig& cfg, engine::Connection& control, const std::atomic<bool>& stop) {
    const Target target = current_target(control, cfg.schema);
    BackfillReport report;
    report.rejects_table = reject_table(cfg.schema).qualified_name();
    const bool had_plan = load_checkpoint(control, cfg.schema).has_value();
    std::vector<ChatRange> plan = starting_plan(cfg, control, target, report.primary_key);
    const Checkpoint before = *load_checkpoint(control, cfg.schema);
    report.resumed = had_plan && !cfg.resync && before.chats > 0;
    const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));  // once per run (SPEC §2)
    // A table loaded without its key holds nothing that a chat could have left behind.
    const bool replace = cfg.resync && has_primary_key(control, target);
    if (!before.complete) run_lanes(cfg, target, replace, plan, before.rejected, now, stop, report);
    report.totals = *load_checkpoint(control, cfg.schema);
    if (report.totals.complete && !stop.load()) {
        if (cfg.max_rejects && report.totals.rejected > *cfg.max_rejects)
            throw too_many_rejects(report.totals.rejected, *cfg.max_rejects);
        current_target(control, cfg.schema);  // stops here if chat_message appeared meanwhile: it may hold the key's name
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

// The figures of a backfill for the summary. "This run" counts from `baseline`, the checkpoint
// as the run found it, so that a run whose backfill was retried after a lost connection counts
// every attempt, not the last one only.
BackfillFigures figures_of(const BackfillReport& r, const Checkpoint& baseline, double seconds, unsigned attempts,
                           const TargetFacts& facts) {
    BackfillFigures f;
    const Checkpoint& t = r.totals;
    f.state = r.already_complete ? "already complete"
              : r.interrupted    ? "interrupted"
              // Resumed ranges an earlier run began: not this run's own retry after a lost connection.
              : r.resumed && baseline.chats > 0 ? "complete (resumed)"
                                 : "complete";
    f.chats_read = t.chats;
    f.messages_written = t.messages;
    f.already_present = t.present;
    f.rejected = r.rejects;
    f.skipped = t.skipped;
    f.bytes = t.bytes;
    if (facts.counted) {
        f.shared_chats = facts.shared;
        f.chats_without_user = facts.without_user;
    }
    auto since = [](std::uint64_t now, std::uint64_t then) { return now >= then ? now - then : now; };
    if (!r.already_complete) {
        f.run_chats = since(t.chats, baseline.chats);
        f.run_messages = since(t.messages, baseline.messages);
        f.run_bytes = since(t.bytes, baseline.bytes);
    }
    f.run_seconds = seconds;
    f.attempts = attempts;
    f.lanes = r.lanes;
    f.ranges_read = r.ranges_left;
    f.ranges = t.ranges;
    f.primary_key = r.primary_key;
    f.run_updated = r.updated;
    f.run_removed = r.removed;
    f.rejects_table = r.rejects_table;
    return f;
}

// The checkpoint as this run finds it, as starting_plan() will read it (nothing after --resync
// or when it describes another table); read-only.
Checkpoint backfill_baseline(const config::RunConfig& cfg, engine::Connection& control) {
    if (cfg.resync) return {};
    std::optional<Checkpoint> cp = load_checkpoint(control, cfg.schema);
    if (!cp || !cp->describes(current_target(control, cfg.schema).table)) return {};
    return *cp;
}

// What the display says while a phase starts, before the phase says more.
const char* first_words(Phase phase) {
    switch (phase) {
        case Phase::schema: return "checking chat_message, or creating sluice's build table";
        case Phase::backfill: return "planning the ranges of chat to read, and opening its snapshot";
        case Phase::indexes: return "looking for the indexes that are missing";
        case Phase::constraints: return "looking for the foreign key";
        case Phase::publish: return "publishing";
    }
    return "";
}

// What one phase said, and for the backfill its report.
struct PhaseResult {
    std::string said;
    std::optional<BackfillReport> backfill;
};

// One phase on a control connection of its own. `baseline` is read once, on the backfill's
// first attempt.
PhaseResult run_phase(Phase phase, const config::RunConfig& cfg, const std::atomic<bool>& stop,
                      std::optional<Checkpoint>& baseline) {
    engine::Connection control(cfg.db_url, "control");
    PhaseResult result;
    switch (phase) {
        case Phase::schema: prepare_target(control, cfg.schema, result.said); break;
        case Phase::backfill:
            if (!baseline) baseline = backfill_baseline(cfg, control);
            result.backfill = backfill(cfg, control, stop);
            break;
        case Phase::indexes:
            result.said = build_indexes(cfg.db_url, current_target(control, cfg.schema), cfg.index_connections,
                                        cfg.max_rejects, stop);
            break;
        case Phase::constraints: result.said = ensure_foreign_key(control, current_target(control, cfg.schema)); break;
        case Phase::publish:
            result.said = publish(control, current_target(control, cfg.schema), cfg.stamp_alembic, cfg.max_rejects);
            break;
    }
    return result;
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
void with_reconnect(const config::RunConfig& cfg, const std::atomic<bool>& stop, const char* name,
                    const std::function<void()>& step) {
    std::chrono::milliseconds wait(500);
    std::uint64_t marks = engine::progress_marks();
    for (unsigned attempt = 1;; ++attempt) {
        try {
            step();
            return;
        } catch (const engine::PgError& e) {
            bool transient = e.action() == engine::ErrorAction::reconnect || e.action() == engine::ErrorAction::retry_batch;
            if (!transient || stop.load() || !engine::Connection::any_established()) throw;
            if (engine::progress_marks() != marks) {  // it got somewhere since the last failure
                marks = engine::progress_marks();
                attempt = 1;
                wait = std::chrono::milliseconds(500);
            }
            if (attempt > cfg.connect_retries) {
                engine::log::warn(std::string(name) + ": giving up after " + engine::plural(attempt, "attempt"));
                throw;
            }
            engine::log::debug(std::string(name) + ": " + e.what());
            engine::log::warn(std::string(name) + ": " + engine::brief(e) + "; trying again in " +
                              engine::human_duration(wait.count() / 1000.0) + " (retry " + std::to_string(attempt) +
                              " of " + std::to_string(cfg.connect_retries) + ")");
            sleep_unless_stopped(wait, stop);
            wait = std::min(wait * 2, cfg.retry_max_wait);
        }
    }
}

// Takes the run's lock, or throws naming who holds it. Returns false when stopped while waiting.
// `waited` says whether another run held it first.
bool take_lock(engine::RunLock& lock, const config::RunConfig& cfg, const std::atomic<bool>& stop, bool& waited) {
    engine::show_progress("taking the run's lock on schema " + engine::quote_ident(cfg.schema));
    std::optional<engine::LockHolder> holder =
        lock.acquire(cfg.wait_for_lock, stop, [&](const engine::LockHolder& h) {
            waited = true;
            engine::show_progress("waiting for another sluice migrate to finish");
            engine::log::report("  waiting for another sluice migrate on schema " + engine::quote_ident(cfg.schema) +
                                " to finish: " + h.describe());
        });
    engine::show_progress("");
    if (!holder) return true;
    if (stop.load()) return false;
    throw LockHeldError("another sluice migrate is running on schema " + engine::quote_ident(cfg.schema) +
                             ": the lock is held by " + holder->describe() + "; let it finish" +
                             (cfg.wait_for_lock.count() > 0 ? std::string(" (waited ") +
                                  engine::human_duration(cfg.wait_for_lock.count() / 1000.0) + ")"
                                                            : std::string(", or pass --wait-for-lock DURATION to wait")));
}

// Before anything is written: where the run goes and what it will do, then the checks of
// `sluice check`; a failed one ends the run here (stages/commands/check.h). Lowers the lanes and index
// connections of `cfg` to what the connection limits leave. Returns what the banner found.
TargetFacts say_what_changes(config::RunConfig& cfg) {
    // The checks, then the banner's facts, on one session: a connection costs the server tens of
    // milliseconds of CPU on a small host, a fixed cost of every run. The checks go first: they
    // ask the session's own default_transaction_read_only, which the banner's reading sets.
    engine::Connection conn(cfg.db_url, "check");
    engine::show_progress("checking what the run needs (the checks of sluice check)");
    ConnectionFit fit;
    const std::vector<CheckResult> checks = preflight(cfg, conn, &fit);
    TargetFacts facts = read_target_facts(cfg, conn);
    cfg.reject_file = reject_file_for(conn, cfg);  // named once, for the banner and the export
    cfg.lanes = fit.lanes;
    cfg.index_connections = fit.index_connections;
    engine::show_progress("");
    report_banner(cfg, facts, checks);
    for (const CheckResult& c : checks) engine::log::debug("check: " + describe(c));
    refuse_unless_ready(checks);
    return facts;
}

// Before the phases start: backends an earlier, killed run left running on the job's tables (an
// index build goes on without its client) are ended, each named in a line; then the run takes the
// fence, which waits for any commit of an earlier run that lost its lock and still runs.
void take_over_from_earlier_runs(const config::RunConfig& cfg, engine::RunFence& fence) {
    engine::Connection conn(cfg.db_url, "control");
    std::vector<std::string> relations;
    for (const char* name : {kChatMessage, kBuildTable, "sluice_checkpoint", "sluice_reject", kRunTable})
        relations.push_back(engine::qualified(cfg.schema, name));
    engine::end_leftovers(conn, relations, [](const std::string& line) { engine::log::report("  " + line); });
    fence.take(conn, [&] { create_as_app_owner(conn, cfg.schema); });  // as sluice's other tables
}

// A run that another run took over (after its lock's session was ended) stops with one line and
// exit status 75, however the loss showed: its fence refused a commit, the keeper cancelled a
// statement, or the other run ended one of its sessions. Call in a catch block: rethrows.
[[noreturn]] void rethrow_taken_over(const config::RunConfig& cfg, std::optional<engine::LockKeeper>& keeper) {
    auto said = [&](const engine::RunTakenOver& e) {
        return LockHeldError("another sluice migrate took over schema " + engine::quote_ident(cfg.schema) + ": " +
                             e.what() +
                             "; this run stopped without committing anything more: let the other one finish");
    };
    try {
        throw;
    } catch (const engine::RunTakenOver& e) {
        throw said(e);
    } catch (...) {
        try {
            if (keeper) keeper->keep();
        } catch (const engine::RunTakenOver& e) {
            throw said(e);
        } catch (...) {
        }
        throw;
    }
}

// The reject file is an export of the rejects table, written at the end of every run that
// reached the backfill; the table stays the record, so a failed export is a warning. A file of
// the run's own name (no --reject-file given) is written only when there are rejects.
void export_rejects(const config::RunConfig& cfg, bool named_by_run, RunSummary& summary) {
    summary.reject_file = cfg.reject_file;
    try {
        engine::Connection conn(cfg.db_url, "rejects");
        engine::sessions::set_cancellable(conn.raw(), false);  // it runs after a stop request, on purpose
        const engine::RejectTable rejects = reject_table(cfg.schema);
        if (named_by_run && rejects.count(conn) == 0) return;
        std::uint64_t lines = rejects.export_to(conn, cfg.reject_file);
        summary.rejects_exported = lines;
        if (lines > 0) engine::log::report("  rejects      " + std::to_string(lines) + " exported to " + cfg.reject_file);
    } catch (const std::exception& e) {
        const auto* pg = dynamic_cast<const engine::PgError*>(&e);  // its message, without the connection's label
        engine::log::warn(std::string("warning: ") + (pg ? pg->message() : std::string(e.what())) +
                          "; the rejects are safe in table sluice_reject: export them with sluice rejects --output FILE");
    }
}

// A run that finds nothing to write: one line, the verdict, and exit status 0.
int nothing_to_do(const AlreadyMigrated& done, RunSummary& summary) {
    summary.outcome = "done";
    engine::log::result("sluice migrate: " + done.what() + "; nothing to do");
    return 0;
}

// The display's style: -q shows no progress.
engine::ProgressStyle display_style(const config::RunConfig& cfg) {
    return cfg.quiet ? engine::ProgressStyle::none : progress_style(cfg.progress);
}

// What the summary says of a phase that ran: the line it printed, without the run's indent.
PhaseFigures phase_figures(Phase phase, double seconds, const char* outcome, const std::string& said) {
    return {phase_name(phase), seconds, outcome, said.substr(0, said.find('\n'))};
}

// The phases in order, each framed on the display and reported in one block of lines.
// Returns false when a stop request cancelled one.
bool run_phases(const config::RunConfig& cfg, const std::atomic<bool>& stop, engine::LockKeeper& keeper,
                const TargetFacts& facts, RunSummary& summary) {
    engine::ProgressDisplay& display = *engine::ProgressDisplay::current();
    std::optional<Checkpoint> baseline;
    bool interrupted = false;
    unsigned number = 0;
    for (Phase phase : cfg.phases) {
        if (stop.load() || interrupted) break;
        display.begin_phase(phase_name(phase), ++number, static_cast<unsigned>(cfg.phases.size()));
        display.show(first_words(phase));
        const auto started = Clock::now();
        auto seconds = [&] { return std::chrono::duration<double>(Clock::now() - started).count(); };
        PhaseResult result;
        unsigned attempts = 0;
        try {
            with_reconnect(cfg, stop, phase_name(phase), [&] {
                ++attempts;
                keeper.keep();
                result = run_phase(phase, cfg, stop, baseline);
            });
        } catch (const engine::PgError& e) {
            // A stop request cancels the running statement: what it did is rolled back.
            if (!stop.load() || e.sqlstate() != "57014") {
                summary.phases.push_back(phase_figures(phase, seconds(), "failed", e.message()));
                display.end_phase("failed after");
                throw;
            }
            interrupted = true;
            result.said = "interrupted: the running statement was cancelled and rolled back";
        } catch (const std::exception& e) {
            summary.phases.push_back(phase_figures(phase, seconds(), "failed", e.what()));
            display.end_phase("failed after");
            throw;
        }
        if (result.backfill) {
            interrupted = result.backfill->interrupted;
            summary.backfill = figures_of(*result.backfill, baseline.value_or(Checkpoint{}), seconds(), attempts, facts);
            result.said = backfill_text(*summary.backfill);
        }
        const char* outcome = interrupted ? "interrupted" : "done";
        summary.phases.push_back(phase_figures(phase, seconds(), outcome, result.said));
        display.end_phase(interrupted ? "interrupted after" : "done in");
        char head[64];
        std::snprintf(head, sizeof head, "  %-12s %8s  ", phase_name(phase), engine::human_duration(seconds()).c_str());
        report_phase(head, result.said, result.backfill ? &*summary.backfill : nullptr);
    }
    return !interrupted;
}

}  // namespace

int migrate(const config::RunConfig& given, const std::atomic<bool>& stop, RunSummary& summary) {
    const auto run_started = Clock::now();
    config::RunConfig cfg = given;  // the checks may lower its lanes and index connections to the connection limits
    summary.schema = cfg.schema;
    summary.reject_file = cfg.reject_file;
    engine::ProgressDisplay display(display_style(cfg));
    // Before anything is written: one run at a time (but first no pooler that would keep the lock:
    // the lock's connection is open, the lock not taken yet), then what it will change and the checks.
    // Nothing to write: said before the sessions are checked or anything is created (every pod after
    // the first finds the work done beside the app it serves), and again after waiting for the run
    // that may have done it.
    if (std::optional<AlreadyMigrated> done = already_migrated(cfg)) return nothing_to_do(*done, summary);
    engine::RunLock lock(cfg.db_url, lock_key(cfg.schema));
    refuse_behind_pooler(cfg);
    bool waited = false;
    bool interrupted = !take_lock(lock, cfg, stop, waited);
    if (!interrupted && waited)
        if (std::optional<AlreadyMigrated> done = already_migrated(cfg)) return nothing_to_do(*done, summary);
    engine::LockWatch lock_watch(cfg.db_url, [](const std::string& line) { engine::log::note(line); });
    TargetFacts facts;
    try {
        if (!interrupted) with_reconnect(cfg, stop, "checks", [&] { facts = say_what_changes(cfg); });
        summary.reject_file = cfg.reject_file;
    } catch (const engine::PgError& e) {
        if (!stop.load() || e.sqlstate() != "57014") throw;
        interrupted = true;  // a stop request cancelled a check's query: nothing was written
    }
    const bool backfills = std::find(cfg.phases.begin(), cfg.phases.end(), Phase::backfill) != cfg.phases.end();
    const bool checked = !interrupted;  // the export is written by a run that got to its phases
    engine::RunFence fence(cfg.schema, kRunTable, fence_key());
    std::optional<engine::LockKeeper> keeper;
    try {
        if (!interrupted) {
            take_over_from_earlier_runs(cfg, fence);
            keeper.emplace(lock, fence, [](const std::string& line) { engine::log::note(line); });
            interrupted = !run_phases(cfg, stop, *keeper, facts, summary);
        }
    } catch (...) {
        if (backfills && checked) export_rejects(cfg, given.reject_file.empty(), summary);
        rethrow_taken_over(cfg, keeper);
    }
    if (backfills && checked) export_rejects(cfg, given.reject_file.empty(), summary);
    const double total = std::chrono::duration<double>(Clock::now() - run_started).count();
    engine::log::report("  peak memory  " + engine::human_bytes(engine::peak_rss_bytes()));
    if (interrupted || stop.load()) {
        summary.outcome = "interrupted";
        engine::log::result("sluice migrate: interrupted after " + engine::human_duration(total) +
                            "; committed work is kept, run the same command again to resume" +
                            rejects_clause(summary));
        return kExitInterrupted;
    }
    summary.outcome = "done";
    engine::log::result("sluice migrate: done in " + engine::human_duration(total) + rejects_clause(summary));
    return 0;
}

}  // namespace sluice::stages
