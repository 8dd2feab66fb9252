// Where the reject export goes when --reject-file is not given: a name of its own for each
// database, schema and run (sluice-rejects-<database>-<schema>-<UTC time>.jsonl), never a file
// that exists, so that the export of one database (the only record of its rejects once cleanup
// has dropped the table) is never replaced by a later run on another database or the same one.
#pragma once

#include <ctime>
#include <functional>
#include <string>

#include "config/run_config.h"
#include "engine/pg.h"

namespace sluice::stages {

// "sluice-rejects-<database>-<schema>-<YYYYMMDDTHHMMSSZ>.jsonl" for the UTC time `at`, each
// character a file name may not safely hold (anything but letters, digits, '.', '_' and '-')
// replaced by '_'; when `taken` says the name is in use, "-2", "-3", ... before ".jsonl".
std::string default_reject_file(const std::string& database, const std::string& schema, std::time_t at,
                                const std::function<bool(const std::string&)>& taken);

// The run's reject file: --reject-file when given (replaced whole, as every export is), else
// default_reject_file() for the database `conn` is on, now, in the working directory.
std::string reject_file_for(engine::Connection& conn, const config::RunConfig& config);

}  // namespace sluice::stages
