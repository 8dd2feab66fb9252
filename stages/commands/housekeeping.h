// The commands around migrate that look after sluice's own state: `sluice rejects` exports the
// rejects table, `sluice cleanup` drops sluice's tables once the operator no longer needs them.
#pragma once

#include "config/run_config.h"

namespace sluice::stages {

// Writes the rejects table as JSON lines to --output (standard output when not given).
// Returns the exit status; throws on failure.
int export_rejects_command(const config::RunConfig& config);

// Refused while a migrate holds the lock (it does not wait), and, returning
// config::kExitNotReady with nothing dropped, when a build table was never published and
// --discard-unfinished-build was not given. Exports any rejects to --reject-file first, then drops
// sluice_reject, sluice_checkpoint, sluice_run and (with that flag) the unpublished build table
// with its placeholder, in one transaction.
// Returns the exit status; throws on failure.
int cleanup(const config::RunConfig& config);

}  // namespace sluice::stages
