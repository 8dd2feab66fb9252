// The checks of `sluice check` and migrate's preflight that are the second job's own (--revision
// 9a1b2c3d4e5f), in place of the first job's chat_message, privileges and alembic checks: "revision"
// (the database is at 856c5b02fb54, with the tables and columns it implies) and "privileges" (what
// its phases need). Read-only.
#pragma once

#include <vector>

#include "config/run_config.h"
#include "engine/pg.h"
#include "stages/commands/check_result.h"

namespace sluice::stages {

// Throws engine::PgError on a lost connection; every other problem is a failed check.
std::vector<CheckResult> current_message_checks(engine::Connection& conn, const config::RunConfig& config);

}  // namespace sluice::stages
