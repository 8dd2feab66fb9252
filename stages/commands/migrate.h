// `sluice migrate`: under the run's lock, what it is about to change and the checks of `sluice
// check` (it refuses to start when one fails), then the phases in order (schema, backfill,
// indexes, constraints, publish), each timed and reported, then the reject export and the
// summary. The backfill wires reader, transform and writer into the engine's pipeline.
#pragma once

#include <atomic>
#include <string>

#include "config/run_config.h"
#include "engine/progress.h"
#include "stages/commands/run_summary.h"

namespace sluice::stages {

// Exit status of a run that was asked to stop (SIGINT/SIGTERM) and stopped cleanly; main makes
// it 128 + the signal's number (130 or 143), as docker stop and Kubernetes expect.
inline constexpr int kExitInterrupted = 130;

// The configured progress style, "auto" resolved against stderr (a terminal gets the bar).
engine::ProgressStyle progress_style(config::ProgressStyle style);

// The advisory lock's key: one migrate at a time per database (advisory locks are per
// database) and schema. cleanup takes the same lock; verify never does.
std::string lock_key(const std::string& schema);

// Runs the configured phases. Returns the exit status (0, or kExitInterrupted); throws on
// failure (main turns the exception into one line and status 1). `stop` is set by signals.
// `summary` gets the run's figures as they come, also when it throws (main writes them).
int migrate(const config::RunConfig& config, const std::atomic<bool>& stop, RunSummary& summary);

}  // namespace sluice::stages
