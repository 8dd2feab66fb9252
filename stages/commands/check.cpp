// `sluice check`: the preflight's lines, one per check, and its verdict.
#include "stages/commands/check.h"

#include <string>
#include <vector>

#include "engine/log.h"
#include "engine/pg.h"
#include "engine/words.h"
#include "stages/commands/preflight.h"

namespace sluice::stages {

namespace {

using config::Phase;
using engine::joined;

std::vector<std::string> named(const std::vector<CheckResult>& results, Verdict verdict) {
    std::vector<std::string> names;
    for (const CheckResult& r : results)
        if (r.verdict == verdict) names.push_back(r.name);
    return names;
}

}  // namespace

int check(const config::RunConfig& cfg) {
    std::vector<std::string> phases;
    for (Phase phase : cfg.phases)
        phases.push_back(config::phase_name(phase));
    engine::log::report("sluice check: schema " + engine::quote_ident(cfg.schema) + ", phases " + joined(phases, ",") +
                        (cfg.stamp_alembic ? ", --stamp-alembic" : ""));
    const std::vector<CheckResult> results = preflight(cfg);
    for (const CheckResult& r : results) {
        if (r.verdict == Verdict::warning) engine::log::report_warning(r.name + ": " + r.detail, describe(r));
        else engine::log::report(describe(r));
    }
    const std::vector<std::string> failed = named(results, Verdict::failed);
    const std::vector<std::string> warned = named(results, Verdict::warning);
    if (!failed.empty()) {
        engine::log::result("sluice check: not ready: " + engine::plural(failed.size(), "check") + " failed (" +
                            joined(failed, ", ") + "); migrate would refuse to start");
        return 1;
    }
    std::string verdict = "sluice check: ready: migrate can start";
    if (!warned.empty())
        verdict += std::string("; read the ") + (warned.size() == 1 ? "warning" : "warnings") + " (" +
                   joined(warned, ", ") + ") first";
    engine::log::result(verdict);
    return 0;
}

}  // namespace sluice::stages
