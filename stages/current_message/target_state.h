// Whether a database is one the second job may run on, decided before anything else (before the
// lock, the sessions or any table of sluice's): alembic_version at 856c5b02fb54 and the tables and
// columns that revision implies (the revision id alone is used by unrelated projects). A database
// already at 9a1b2c3d4e5f, or whose job is done, has nothing to do; anything else is refused with
// one line saying what to run first.
#pragma once

#include <string>

#include "config/job_settings.h"
#include "engine/pg.h"

namespace sluice::stages::current_message {

struct TargetState {
    enum Kind { ready, done, refused };
    Kind kind = ready;
    std::string what;  // done: "already migrated (...)"; refused: what is wrong and what to do
};

// A few catalog queries and the job's checkpoint; never reads chat. `stamp`: --stamp-alembic, which
// leaves a finished job something to do (the stamp).
TargetState target_state(engine::Connection& conn, const std::string& schema, bool stamp);

// The same on a connection of its own (named "check").
TargetState target_state(const config::JobSettings& config);

// The command that brings a database to 856c5b02fb54, run in Open WebUI's own image.
std::string upgrade_command();

}  // namespace sluice::stages::current_message
