// `sluice migrate`: the phases in order (schema, backfill, indexes, constraints), each timed
// and reported, then the summary. The backfill wires reader, transform and writer into the
// engine's pipeline.
#pragma once

#include <atomic>

#include "config/run_config.h"
#include "engine/progress.h"

namespace sluice::stages {

// Exit status of a run that was asked to stop (SIGINT/SIGTERM) and stopped cleanly.
inline constexpr int kExitInterrupted = 130;

// The configured progress style, "auto" resolved against stderr (a terminal gets the bar).
engine::ProgressStyle progress_style(config::ProgressStyle style);

// Runs the configured phases. Returns the exit status (0, or kExitInterrupted); throws on
// failure (main turns the exception into one line and status 1). `stop` is set by signals.
int migrate(const config::RunConfig& config, const std::atomic<bool>& stop);

}  // namespace sluice::stages
