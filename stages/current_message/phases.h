// The second job's schema and publish phases (its backfill is stages/current_message/backfill.h).
// schema: chat.current_message_id TEXT when absent (as upstream's migration adds it: no index, no
// default) and the job's state tables. publish: once every range is committed, with --stamp-alembic,
// alembic_version 856c5b02fb54 -> 9a1b2c3d4e5f in one transaction. Each returns what it did, in one line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "engine/pg.h"

namespace sluice::stages::current_message {

std::string prepare(engine::Connection& conn, const std::string& schema);

// Throws when chat has no column current_message_id (the schema phase adds it).
void require_column(engine::Connection& conn, const std::string& schema);

// Throws, changing nothing, when a range is not complete, the rejects pass --max-rejects, or
// alembic_version holds another revision than the two the job moves between.
std::string publish(engine::Connection& conn, const std::string& schema, bool stamp,
                    std::optional<std::uint64_t> max_rejects);

}  // namespace sluice::stages::current_message
