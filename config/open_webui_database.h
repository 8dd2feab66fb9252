// Open WebUI's split database variables (DATABASE_TYPE, DATABASE_USER, DATABASE_PASSWORD,
// DATABASE_HOST, DATABASE_PORT, DATABASE_NAME), the Secret-friendly way its Helm chart's users give
// the database, read exactly as Open WebUI reads them: its env.py joins them into
// "{type}://{user}[:{password}]@{host}:{port}/{name}" when every one of type, host, port, name and
// a user or a password is set (non-empty), and that URL then wins over DATABASE_URL; nothing is
// quoted, "postgres://" becomes "postgresql://", and SQLAlchemy parses the result, decoding %XX in
// the user and the password (not in the name).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/common.h"

namespace sluice::config {

// The six variables' names, in Open WebUI's order.
extern const std::vector<std::string> kOpenWebUIDatabaseVariables;

// The connection that Open WebUI would make of the variables in `env`, as a libpq keyword string
// (host, port, user, password, dbname and what a "?key=value" after the name adds); nothing when
// they are not all set, for Open WebUI then ignores them. Throws UsageError, never naming the
// password, for a type that is not PostgreSQL and for values Open WebUI's URL cannot carry (a
// password with an '@' is cut there: it must be percent-encoded, %40, for Open WebUI too).
std::optional<std::string> open_webui_database(const Environment& env);

// When some of the variables are set but not enough for Open WebUI to use them: the ones missing
// ("DATABASE_USER or DATABASE_PASSWORD" for the credentials); else empty.
std::vector<std::string> missing_open_webui_database_variables(const Environment& env);

}  // namespace sluice::config
