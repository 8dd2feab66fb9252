// What the commands share, and the only header through which they share it: a command never
// includes another command's header (cmake/layers.cmake checks it).
#pragma once

#include <functional>
#include <stdexcept>
#include <string>

#include "config/run_config.h"
#include "engine/pg.h"
#include "engine/progress.h"

namespace sluice::stages {

// Exit status of a run that was asked to stop (SIGINT/SIGTERM) and stopped cleanly; main makes
// it 128 + the signal's number (130 or 143), as docker stop and Kubernetes expect.
inline constexpr int kExitInterrupted = 130;

// Another sluice migrate holds the run's lock (and no --wait-for-lock lets this one wait): main
// exits with config::kExitLockHeld, so that a script can tell "try later" from a failure.
struct LockHeldError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The configured progress style, "auto" resolved against stderr (a terminal gets the bar).
engine::ProgressStyle progress_style(config::ProgressStyle style);

// Whether the run is the second job's (--revision 9a1b2c3d4e5f, chat.current_message_id).
bool runs_current_message(const config::RunConfig& config);

// The advisory lock's key: one migrate at a time per database (advisory locks are per
// database) and schema. cleanup takes the same lock; verify never does.
std::string lock_key(const std::string& schema);

// verify (of either job) while a migrate holds the run's lock: what it would count is work in
// progress. Throws LockHeldError naming the holder, with `progress()` (its job's words on how far
// it is, "; ..." or empty) after it; returns when no migrate runs.
void refuse_verify_while_migrating(engine::Connection& conn, const std::string& schema,
                                   const std::function<std::string()>& progress);

}  // namespace sluice::stages
