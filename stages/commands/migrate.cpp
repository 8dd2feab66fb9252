// The migrate command: the lock, the banner and the preflight, the phases on the progress display
// (the backfill's in stages/chat_message/backfill.h), and the figures of the summary an operator reads.
#include "stages/commands/migrate.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <thread>

#include "engine/leftover_backends.h"
#include "engine/lock_keeper.h"
#include "engine/lock_watch.h"
#include "engine/log.h"
#include "engine/progress.h"
#include "engine/reject_table.h"
#include "engine/run_fence.h"
#include "engine/run_lock.h"
#include "engine/sessions.h"
#include "engine/words.h"
#include "stages/chat_message/already_migrated.h"
#include "stages/chat_message/backfill.h"
#include "stages/chat_message/checkpoint.h"
#include "stages/chat_message/phases.h"
#include "stages/chat_message/target.h"
#include "stages/commands/preflight.h"
#include "stages/commands/reject_file_name.h"
#include "stages/commands/run_banner.h"
#include "stages/commands/run_summary.h"
#include "stages/current_message/backfill.h"
#include "stages/current_message/phases.h"
#include "stages/current_message/target_state.h"
#include "stages/shared/app_owner.h"
#include "stages/shared/run_table.h"

namespace sluice::stages {

namespace {

using config::Phase;
using Clock = std::chrono::steady_clock;

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

// What the display says while a phase starts, before the phase says more.
const char* first_words(Phase phase) {
    switch (phase) {
        case Phase::schema:
            return "checking chat_message, or creating sluice's build table";
        case Phase::backfill:
            return "planning the ranges of chat to read, and opening its snapshot";
        case Phase::indexes:
            return "looking for the indexes that are missing";
        case Phase::constraints:
            return "looking for the foreign key";
        case Phase::publish:
            return "publishing";
    }
    return "";
}

// What one phase said, and for the backfill its report (the second job's in `values`).
struct PhaseResult {
    std::string said;
    std::optional<BackfillReport> backfill;
    std::optional<current_message::ValuesReport> values;
};

// The second job's figures, as values_figures() gives the first's: "this run" counts from what
// the checkpoint held when the run began.
ValueFigures values_figures(const current_message::ValuesReport& r, const current_message::Progress& baseline,
                            double seconds, unsigned attempts, const std::string& schema) {
    ValueFigures f;
    const current_message::ValueTally& t = r.totals.tally;
    f.state = r.already_complete         ? "already complete"
              : r.interrupted            ? "interrupted"
              : baseline.tally.chats > 0 ? "complete (resumed)"
                                         : "complete";
    f.chats = t.chats;
    f.updated = t.updated;
    f.rejected = r.rejects;
    f.run_chats = t.chats - std::min(t.chats, baseline.tally.chats);
    f.run_updated = t.updated - std::min(t.updated, baseline.tally.updated);
    f.run_seconds = seconds;
    f.attempts = attempts;
    f.lanes = r.lanes;
    f.ranges_read = r.ranges_left;
    f.ranges = r.totals.ranges;
    f.rejects_table = current_message::reject_table(schema).qualified_name();
    return f;
}

// One phase of the second job on `control`: it has no indexes or constraints (config refuses them).
PhaseResult run_current_message_phase(Phase phase, const config::RunConfig& cfg, const std::atomic<bool>& stop,
                                      engine::Connection& control) {
    PhaseResult result;
    switch (phase) {
        case Phase::schema:
            result.said = current_message::prepare(control, cfg.schema);
            break;
        case Phase::backfill:
            result.values =
                current_message::backfill(config::job_settings(cfg), control, stop, progress_style(cfg.progress));
            break;
        case Phase::publish:
            result.said = current_message::publish(control, cfg.schema, cfg.stamp_alembic, cfg.max_rejects);
            break;
        default:
            throw std::logic_error(std::string("phase ") + phase_name(phase) + " is not the second job's");
    }
    return result;
}

// One phase on the run's control connection. `baseline` is set once, by the backfill's first
// attempt; `facts` are the checks' (one lane's plan takes their count of chats).
PhaseResult run_phase(Phase phase, const config::RunConfig& cfg, const TargetFacts& facts,
                      const std::atomic<bool>& stop, std::optional<Checkpoint>& baseline, engine::Connection& control) {
    if (runs_current_message(cfg)) return run_current_message_phase(phase, cfg, stop, control);
    PhaseResult result;
    switch (phase) {
        case Phase::schema:
            prepare_target(control, cfg.schema, result.said);
            break;
        case Phase::backfill: {
            config::JobSettings settings = config::job_settings(cfg);
            if (facts.counted) settings.selected_chats = facts.chats - facts.shared - facts.without_user;
            result.backfill = backfill(settings, control, stop, progress_style(cfg.progress), baseline);
            break;
        }
        case Phase::indexes:
            result.said = build_indexes(cfg.db_url, current_target(control, cfg.schema), cfg.index_connections,
                                        cfg.max_rejects, stop);
            break;
        case Phase::constraints:
            result.said = ensure_foreign_key(control, current_target(control, cfg.schema));
            break;
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
            bool transient =
                e.action() == engine::ErrorAction::reconnect || e.action() == engine::ErrorAction::retry_batch;
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
    std::optional<engine::LockHolder> holder = lock.acquire(cfg.wait_for_lock, stop, [&](const engine::LockHolder& h) {
        waited = true;
        engine::show_progress("waiting for another sluice migrate to finish");
        engine::log::report("  waiting for another sluice migrate on schema " + engine::quote_ident(cfg.schema) +
                            " to finish: " + h.describe());
    });
    engine::show_progress("");
    if (!holder) return true;
    if (stop.load()) return false;
    throw LockHeldError(
        "another sluice migrate is running on schema " + engine::quote_ident(cfg.schema) + ": the lock is held by " +
        holder->describe() + "; let it finish" +
        (cfg.wait_for_lock.count() > 0
             ? std::string(" (waited ") + engine::human_duration(cfg.wait_for_lock.count() / 1000.0) + ")"
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
    for (const CheckResult& c : checks)
        engine::log::debug("check: " + describe(c));
    refuse_unless_ready(checks);
    return facts;
}

// Before the phases start: backends an earlier, killed run left running on the job's tables (an
// index build goes on without its client) are ended, each named in a line; then the run takes the
// fence, which waits for any commit of an earlier run that lost its lock and still runs.
void take_over_from_earlier_runs(const config::RunConfig& cfg, engine::RunFence& fence, engine::Connection& conn) {
    std::vector<std::string> relations;
    for (const char* name : {kChatMessage, kBuildTable, "sluice_checkpoint", "sluice_reject", kRunTable})
        relations.push_back(engine::qualified(cfg.schema, name));
    if (runs_current_message(cfg))  // its writers update chat itself
        relations = {engine::qualified(cfg.schema, openwebui::kChat),
                     engine::qualified(cfg.schema, current_message::kCheckpointTable),
                     current_message::reject_table(cfg.schema).qualified_name(),
                     engine::qualified(cfg.schema, kRunTable)};
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
// the run's own name (no --reject-file given) is written only when there are rejects. On the run's
// control connection when it has one in good order (`control`), else on a connection of its own.
void export_rejects(const config::RunConfig& cfg, bool named_by_run, RunSummary& summary,
                    std::optional<engine::Connection>& control) {
    summary.reject_file = cfg.reject_file;
    try {
        std::optional<engine::Connection> own;
        engine::Connection& conn = control ? *control : own.emplace(cfg.db_url, "rejects");
        engine::sessions::set_cancellable(conn.raw(), false);  // it runs after a stop request, on purpose
        const engine::RejectTable rejects =
            runs_current_message(cfg) ? current_message::reject_table(cfg.schema) : reject_table(cfg.schema);
        if (named_by_run && rejects.count(conn) == 0) return;
        std::uint64_t lines = rejects.export_to(conn, cfg.reject_file);
        summary.rejects_exported = lines;
        if (lines > 0)
            engine::log::report("  rejects      " + std::to_string(lines) + " exported to " + cfg.reject_file);
    } catch (const std::exception& e) {
        const auto* pg = dynamic_cast<const engine::PgError*>(&e);  // its message, without the connection's label
        engine::log::warn(std::string("warning: ") + (pg ? pg->message() : std::string(e.what())) +
                          "; the rejects are safe in table " +
                          (runs_current_message(cfg) ? current_message::kRejectTable : "sluice_reject") +
                          ": export them with sluice rejects --output FILE");
    }
}

// A run that finds nothing to write: one line, the verdict, and exit status 0.
int nothing_to_do(const std::string& what, RunSummary& summary) {
    summary.outcome = "done";
    engine::log::result("sluice migrate: " + what + "; nothing to do");
    return 0;
}

// Whether the run has nothing to write, said in `what`; before the lock is taken, the sessions
// are checked or any table of sluice's is made. Asked on the lock's connection (a connection fewer
// in every run's start), or on one of its own when the lock has none. The second job refuses here
// a database it does not recognise.
bool already_done(const config::RunConfig& cfg, engine::RunLock& lock, std::string& what) {
    std::optional<engine::Connection> own;
    engine::Connection& conn = lock.connection() ? *lock.connection() : own.emplace(cfg.db_url, "check");
    if (!runs_current_message(cfg)) {
        std::optional<AlreadyMigrated> done = already_migrated(conn, config::job_settings(cfg));
        if (done) what = done->what();
        return done.has_value();
    }
    const current_message::TargetState state = current_message::target_state(conn, cfg.schema, cfg.stamp_alembic);
    if (state.kind == current_message::TargetState::refused)
        throw NotReadyError("not starting, nothing was written: " + state.what);
    what = state.what;
    return state.kind == current_message::TargetState::done;
}

// The display's style: -q shows no progress.
engine::ProgressStyle display_style(const config::RunConfig& cfg) {
    return cfg.quiet ? engine::ProgressStyle::none : progress_style(cfg.progress);
}

// What the summary says of a phase that ran: the line it printed, without the run's indent.
PhaseFigures phase_figures(Phase phase, double seconds, const char* outcome, const std::string& said) {
    return {phase_name(phase), seconds, outcome, said.substr(0, said.find('\n'))};
}

// The phases in order, each framed on the display and reported in one block of lines, on one
// control connection (`control`, the takeover's): a step that fails gives it up, and its retry
// opens a new one. Returns false when a stop request cancelled one.
bool run_phases(const config::RunConfig& cfg, const std::atomic<bool>& stop, engine::LockKeeper& keeper,
                const TargetFacts& facts, RunSummary& summary, std::optional<engine::Connection>& control) {
    engine::ProgressDisplay& display = *engine::ProgressDisplay::current();
    std::optional<Checkpoint> baseline;
    std::optional<current_message::Progress> values_baseline;  // the second job's, from its first attempt
    bool interrupted = false;
    unsigned number = 0;
    for (Phase phase : cfg.phases) {
        if (stop.load() || interrupted) break;
        display.begin_phase(phase_name(phase), ++number, static_cast<unsigned>(cfg.phases.size()));
        display.show(runs_current_message(cfg) && phase == Phase::schema ? "checking chat.current_message_id"
                                                                         : first_words(phase));
        const auto started = Clock::now();
        auto seconds = [&] { return std::chrono::duration<double>(Clock::now() - started).count(); };
        PhaseResult result;
        unsigned attempts = 0;
        try {
            with_reconnect(cfg, stop, phase_name(phase), [&] {
                ++attempts;
                keeper.keep();
                if (!control) control.emplace(cfg.db_url, "control");
                try {
                    result = run_phase(phase, cfg, facts, stop, baseline, *control);
                } catch (...) {
                    control.reset();  // it may be lost, or in the middle of something: a retry starts afresh
                    throw;
                }
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
        if (result.values) {
            interrupted = result.values->interrupted;
            summary.values = values_figures(*result.values, values_baseline.value_or(result.values->before), seconds(),
                                            attempts, cfg.schema);
            if (!values_baseline) values_baseline = result.values->before;
            result.said = values_text(*summary.values);
        }
        if (result.backfill) {
            interrupted = result.backfill->interrupted;
            summary.backfill =
                figures_of(*result.backfill, baseline.value_or(Checkpoint{}), seconds(), attempts, facts);
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
    engine::RunLock lock(cfg.db_url, lock_key(cfg.schema));
    std::string done;
    if (already_done(cfg, lock, done)) return nothing_to_do(done, summary);
    refuse_behind_pooler(cfg, lock);
    bool waited = false;
    bool interrupted = !take_lock(lock, cfg, stop, waited);
    if (!interrupted && waited && already_done(cfg, lock, done)) return nothing_to_do(done, summary);
    engine::LockWatch lock_watch(cfg.db_url, [](const std::string& line) { engine::log::note(line); });
    TargetFacts facts;
    try {
        if (!interrupted) with_reconnect(cfg, stop, "checks", [&] { facts = say_what_changes(cfg); });
        summary.reject_file = cfg.reject_file;
    } catch (const engine::PgError& e) {
        if (!stop.load() || e.sqlstate() != "57014") throw;
        interrupted = true;  // a stop request cancelled a check's query: nothing was written
    }
    const bool backfills = cfg.runs(Phase::backfill);
    const bool checked = !interrupted;  // the export is written by a run that got to its phases
    engine::RunFence fence(cfg.schema, kRunTable, fence_key());
    std::optional<engine::LockKeeper> keeper;
    std::optional<engine::Connection> control;  // the takeover's, then the phases'
    try {
        if (!interrupted) {
            control.emplace(cfg.db_url, "control");
            take_over_from_earlier_runs(cfg, fence, *control);
            keeper.emplace(lock, fence, [](const std::string& line) { engine::log::note(line); });
            interrupted = !run_phases(cfg, stop, *keeper, facts, summary, control);
        }
    } catch (...) {
        control.reset();  // whatever failed may have left it in a transaction, or lost
        if (backfills && checked) export_rejects(cfg, given.reject_file.empty(), summary, control);
        rethrow_taken_over(cfg, keeper);
    }
    if (backfills && checked) export_rejects(cfg, given.reject_file.empty(), summary, control);
    const double total = std::chrono::duration<double>(Clock::now() - run_started).count();
    engine::log::report("  peak memory  " + engine::human_bytes(engine::peak_rss_bytes()));
    if (interrupted || stop.load()) {
        summary.outcome = "interrupted";
        engine::log::result("sluice migrate: interrupted after " + engine::human_duration(total) +
                            "; committed work is kept, run the same command again to resume" + rejects_clause(summary));
        return kExitInterrupted;
    }
    summary.outcome = "done";
    engine::log::result("sluice migrate: done in " + engine::human_duration(total) + rejects_clause(summary));
    return 0;
}

}  // namespace sluice::stages
