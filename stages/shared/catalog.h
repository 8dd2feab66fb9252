// What both jobs ask of the database before they touch it: whether a relation is there, and which
// revision Open WebUI's migrations have recorded in alembic_version. Facts about Open WebUI's
// database, read from the catalog; neither job's own state.
#pragma once

#include <optional>
#include <string>

#include "engine/pg.h"

namespace sluice::stages {

// Whether the relation exists in the schema.
bool relation_exists(engine::Connection& conn, const std::string& schema, const std::string& name);

// alembic_version's one revision; none when the table is missing, unreadable or not one row.
std::optional<std::string> alembic_revision(engine::Connection& conn, const std::string& schema);

}  // namespace sluice::stages
