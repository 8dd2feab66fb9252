// `sluice verify --revision 9a1b2c3d4e5f`: the second job's reader reads every chat with its
// chat_message keys in one snapshot, the rule decides each in parallel, and a serial stage, in the
// writer's place, checks chat.current_message_id against the decision
// (stages/current_message/verify_values.h). It never writes.
#pragma once

#include <atomic>

#include "config/run_config.h"
#include "stages/commands/run_summary.h"

namespace sluice::stages {

// Runs the check, prints the report and puts its counts in `summary`. Returns 0 when every chat
// agrees, config::kExitDisagrees when one does not, kExitInterrupted when stopped by a signal;
// throws LockHeldError while a migrate holds the run's lock, and on failure. Needs only SELECT
// (and the job's rejects table only where it exists). `stop` is set by signals.
int verify_values(const config::RunConfig& config, const std::atomic<bool>& stop, RunSummary& summary);

}  // namespace sluice::stages
