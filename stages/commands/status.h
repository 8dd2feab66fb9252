// `sluice status`: how far a migration is, asked from any shell or pod, read-only (SELECT only,
// no lock taken, nothing created): who holds the run's lock, the phase, the backfill's ranges and
// rows from sluice_checkpoint, its rate and ETA while a migrate runs; or that none runs, that the
// work is done, or that nothing started.
#pragma once

#include "config/run_config.h"

namespace sluice::stages {

// Prints the state (as JSON with --json). Returns 0; throws engine::PgError when it cannot connect.
int status(const config::RunConfig& config);

}  // namespace sluice::stages
