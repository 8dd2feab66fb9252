// Whether a migrate has anything to write, decided before anything else: before the sessions are
// checked, before the lock, before a sluice table is created or chat is read. A database that
// Open WebUI or sluice has already migrated answers in one line and a few catalog queries, so that
// every pod after the first (an init container on each replica) finds the work done and exits 0
// while the app it serves is connected. Also the alembic revision that no run may start from.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "config/job_settings.h"
#include "engine/pg.h"

namespace sluice::stages {

// A database with nothing left for migrate to write, and what it holds.
struct AlreadyMigrated {
    std::string revision;  // alembic_version's, or "no alembic_version"
    std::string messages;  // "about 150614 messages (estimated)", "150614 messages (sluice's checkpoint)", ...
    std::uint64_t rejected = 0;
    // "already migrated (alembic 8452d01d26d7, N messages, R rejected)"
    std::string what() const;
};

// Nothing to write, unless --resync asks for every chat again: chat_message in upstream's shape
// (or as Open WebUI's later migrations changed it) and either alembic_version past 8452d01d26d7,
// or at 8452d01d26d7 with no unfinished sluice work on the table, or sluice's checkpoint complete
// for chat_message with every phase done (and no stamp asked for that is still to do). A few
// catalog queries and at most a bounded count; never reads chat. Empty when there is work.
std::optional<AlreadyMigrated> already_migrated(engine::Connection& conn, const config::JobSettings& config);

// The same on a connection of its own (named "check").
std::optional<AlreadyMigrated> already_migrated(const config::JobSettings& config);

// What is wrong with alembic_version for any migrate: a single revision that is neither
// 374d2f66af06 (right before chat_message) nor 8452d01d26d7, with no chat_message in upstream's
// shape that would make it a later one; one line saying what to do, or "" when it is fine (no
// table, a table this user cannot read: the privileges check says so, no single row: only
// --stamp-alembic needs one).
std::string alembic_problem(engine::Connection& conn, const std::string& schema);

}  // namespace sluice::stages
