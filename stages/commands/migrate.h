// `sluice migrate`: under the run's lock, what it is about to change and the checks of `sluice
// check` (it refuses to start when one fails), then the phases in order (schema, backfill,
// indexes, constraints, publish), each timed and reported, then the reject export and the
// summary. The backfill wires reader, transform and writer into the engine's pipeline.
#pragma once

#include <atomic>
#include <string>

#include "config/run_config.h"
#include "stages/commands/common.h"
#include "stages/commands/run_summary.h"

namespace sluice::stages {

// Runs the configured phases. Returns the exit status (0, or kExitInterrupted); throws on
// failure (main turns the exception into one line and status 1). `stop` is set by signals.
// `summary` gets the run's figures as they come, also when it throws (main writes them).
int migrate(const config::RunConfig& config, const std::atomic<bool>& stop, RunSummary& summary);

}  // namespace sluice::stages
