// `sluice check`: the preflight's checks (stages/commands/preflight.h) on one read-only session,
// one line each, and a verdict: whether `migrate` would start. It writes nothing.
#pragma once

#include "config/run_config.h"
#include "stages/commands/run_summary.h"

namespace sluice::stages {

// Prints one line per check and the verdict, and puts both in `summary`. Returns 0 when no check
// failed, config::kExitNotReady otherwise; throws as preflight() does.
int check(const config::RunConfig& config, RunSummary& summary);

}  // namespace sluice::stages
