// PostgreSQL connection strings (libpq URLs and keyword strings): checked and redacted without a
// server. redact_password(), declared in run_config.h for everyone, is defined here too.
#pragma once

#include <string>

namespace sluice::config {

// Returns `text` ready for libpq, with an SQLAlchemy "+driver" dropped from the scheme, or throws
// UsageError starting with `label`, showing the string only with its password redacted.
std::string checked_connection_string(const std::string& label, const std::string& text);

}  // namespace sluice::config
