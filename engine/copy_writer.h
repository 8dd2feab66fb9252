// Writing rows with COPY so that bad rows cost little and good rows are never lost. Each range
// of rows goes in under its own savepoint; when PostgreSQL refuses one, the range is rolled
// back and the offender found by the line number PostgreSQL reports (else by bisection), so k
// bad rows among n cost about k COPYs, not n. Rows whose key is already in the table are
// counted as present: after the first conflict, rows go through a staging table and
// INSERT ... ON CONFLICT DO NOTHING. Not thread-safe: the writer stage alone uses it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/batch.h"
#include "engine/copy_binary.h"
#include "engine/pg.h"

namespace sluice::engine {

struct CopyTarget {
    std::string schema;
    std::string table;
    std::vector<Column> columns;  // in tuple order; the first is the key, the second the group
};

struct WriteOutcome {
    std::uint64_t written = 0;
    std::uint64_t present = 0;
    std::vector<Reject> rejects;
};

class IsolatingCopy {
public:
    IsolatingCopy(Connection& conn, CopyTarget target);

    // Writes `rows` inside the caller's open transaction. Throws PgError for anything that is
    // not a row's fault (the caller decides about retry or reconnect).
    void write(const Rows& rows, WriteOutcome& out);

    // Savepoints created since the last commit: the caller commits before it reaches 64,
    // PostgreSQL's per-transaction subtransaction cache.
    std::size_t savepoints() const { return savepoints_; }
    void committed() { savepoints_ = 0; }
    bool staging() const { return staging_; }

private:
    void write_range(const Rows& rows, std::size_t first, std::size_t last, WriteOutcome& out);
    std::uint64_t copy_range(const Rows& rows, std::size_t first, std::size_t last, std::uint64_t& present);
    void reject(const Rows& rows, std::size_t i, const PgError& e, WriteOutcome& out);
    void start_staging();

    Connection& conn_;
    CopyTarget target_;
    std::string copy_sql_;        // straight into the target
    std::string stage_copy_sql_;  // into the staging table
    std::string merge_sql_;       // staging -> target, skipping present keys
    bool staging_ = false;
    std::size_t savepoints_ = 0;
};

}  // namespace sluice::engine
