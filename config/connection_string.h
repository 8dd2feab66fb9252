// PostgreSQL connection strings (libpq URLs and keyword strings): checked and redacted without a
// server, with libpq's own parser (PQconninfoParse) as the judge of what each part means.
#pragma once

#include <string>

namespace sluice::config {

// Returns `text` ready for libpq, or throws UsageError starting with `label`. On the way: surrounding
// quotes are dropped (docker run --env-file keeps them), an SQLAlchemy "+driver" leaves the scheme, and an
// Npgsql/ADO.NET string (Host=h;Port=5432;Username=u;Password=p;Database=d) becomes a keyword string.
// No message ever holds the password: a string libpq cannot parse is described, not quoted.
std::string checked_connection_string(const std::string& label, const std::string& text);

// %XX decoded, as libpq decodes URL parts and Python's urllib.parse.unquote does; a malformed
// escape is kept as it is.
std::string percent_decode(const std::string& text);

// `value` as a libpq keyword string takes it: in quotes when it must be (or `always_quote`), with
// \ and ' escaped.
std::string keyword_value(const std::string& value, bool always_quote);

// A connection string with any password replaced by "***", safe for logs and error messages. A string
// libpq parses comes back as libpq read it, as a keyword string ("user=u password=*** dbname=d host=h");
// one it cannot parse keeps its shape, with every value that might hold a password hidden.
std::string redact_password(const std::string& conninfo);

}  // namespace sluice::config
