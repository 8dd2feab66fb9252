// `sluice check`: the preflight's lines, one per check, and its verdict.
#include "stages/commands/check.h"

#include <optional>
#include <string>
#include <vector>

#include "engine/log.h"
#include "engine/pg.h"
#include "engine/words.h"
#include "stages/chat_message/already_migrated.h"
#include "stages/commands/common.h"
#include "stages/commands/preflight.h"
#include "stages/current_message/target_state.h"

namespace sluice::stages {

namespace {

using config::Phase;
using engine::joined;

// The verdicts as the JSON summary names them, in Verdict's order.
const char* const kVerdictKeys[] = {"ok", "skipped", "warning", "failed"};

std::vector<std::string> named(const std::vector<CheckResult>& results, Verdict verdict) {
    std::vector<std::string> names;
    for (const CheckResult& r : results)
        if (r.verdict == verdict) names.push_back(r.name);
    return names;
}

// What a database with nothing left for migrate holds; nothing when there is work (or, for the
// second job, a database it refuses: the "revision" check says why).
std::optional<std::string> nothing_to_do(const config::RunConfig& cfg) {
    if (runs_current_message(cfg)) {
        const current_message::TargetState state = current_message::target_state(config::job_settings(cfg));
        if (state.kind == current_message::TargetState::done) return state.what;
        return std::nullopt;
    }
    if (std::optional<AlreadyMigrated> done = already_migrated(config::job_settings(cfg))) return done->what();
    return std::nullopt;
}

}  // namespace

int check(const config::RunConfig& cfg, RunSummary& summary) {
    std::vector<std::string> phases;
    for (Phase phase : cfg.phases)
        phases.push_back(config::phase_name(phase));
    engine::log::report("sluice check: schema " + engine::quote_ident(cfg.schema) + ", phases " + joined(phases, ",") +
                        (cfg.stamp_alembic ? ", --stamp-alembic" : ""));
    if (std::optional<std::string> done = nothing_to_do(cfg)) {  // no check matters then
        engine::log::result("sluice check: " + *done + ": migrate has nothing to do");
        return 0;
    }
    const std::vector<CheckResult> results = preflight(cfg);
    for (const CheckResult& r : results) {
        if (r.verdict == Verdict::warning)
            engine::log::report_warning(r.name + ": " + r.detail, describe(r));
        else
            engine::log::report(describe(r));
        summary.checks.push_back({r.name, kVerdictKeys[static_cast<int>(r.verdict)], r.detail});
    }
    const std::vector<std::string> failed = named(results, Verdict::failed);
    const std::vector<std::string> warned = named(results, Verdict::warning);
    if (!failed.empty()) {
        summary.verdict = "not ready: " + engine::plural(failed.size(), "check") + " failed (" + joined(failed, ", ") +
                          "); migrate would refuse to start";
        engine::log::result("sluice check: " + summary.verdict);
        return config::kExitNotReady;
    }
    summary.verdict = "ready: migrate can start";
    if (!warned.empty())
        summary.verdict += std::string("; read the ") + (warned.size() == 1 ? "warning" : "warnings") + " (" +
                           joined(warned, ", ") + ") first";
    engine::log::result("sluice check: " + summary.verdict);
    return 0;
}

}  // namespace sluice::stages
