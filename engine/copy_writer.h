// Writing rows with COPY so that bad rows cost little and good rows are never lost. Each range
// of rows goes in under its own savepoint; when PostgreSQL refuses one, the range is rolled
// back and the offender found by the line number PostgreSQL reports (else by bisection), so k
// bad rows among n cost about k COPYs, not n. Rows whose key is already in the table are
// counted as present: after the first conflict, rows go through a staging table and
// INSERT ... ON CONFLICT DO NOTHING. A row whose key the table (or the same write) holds for
// another group is a key collision: it is not written but reported as a reject (SQLSTATE 23505)
// naming the group that holds the key; of rows of one write that share a key, the one of the
// group the table holds it for goes on, else the one of the group that sorts first in byte order,
// so that the outcome does not depend on the order of the rows (which group should hold a key in
// the end is the job's rule to settle). Not thread-safe: the writer
// stage alone uses it.
#pragma once

#include <cstdint>
#include <optional>
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
    // The rows written are the whole truth about their groups (a resync): a row present with the
    // same key and group is updated when it differs, and remove_others() deletes what is not written.
    bool replace = false;
    // Replace mode: an int8 value that stands for "not known" (a job's fallback, such as its run's
    // clock): a stored value differing from it only so is no change.
    std::optional<std::int64_t> unknown_int8;
};

struct WriteOutcome {
    std::uint64_t written = 0;
    std::uint64_t updated = 0;  // present with the same key and group, and different (replace mode)
    std::uint64_t present = 0;
    std::uint64_t removed = 0;  // rows of the groups written that are no longer among them (replace mode)
    std::vector<Reject> rejects;

    void add(WriteOutcome&& other);
};

class IsolatingCopy {
public:
    IsolatingCopy(Connection& conn, CopyTarget target);

    // Writes `rows` inside the caller's open transaction. Throws PgError for anything that is
    // not a row's fault (the caller decides about retry or reconnect).
    void write(const Rows& rows, WriteOutcome& out);

    // Replace mode, before write(): deletes the target's rows of the given groups whose key and
    // group are not among `rows`. Returns the rows deleted.
    std::uint64_t remove_others(const std::vector<std::string>& groups, const Rows& rows);

    // The caller's transaction begins with the next range: its BEGIN goes to the server in one
    // message with that range's savepoint and COPY (a round trip less per transaction). The
    // caller calls begin_if_due() before any statement of its own in that transaction.
    void begin_with_next() { begin_due_ = true; }
    void begin_if_due();

    // Savepoints created since the last commit: the caller commits before it reaches 64,
    // PostgreSQL's per-transaction subtransaction cache.
    std::size_t savepoints() const { return savepoints_; }
    // The caller calls this once its transaction has ended (committed or rolled back): that ended
    // the savepoints too, the last one's release included (write() leaves it to the next range).
    void committed() {
        savepoints_ = 0;
        release_due_ = false;
        begin_due_ = false;
    }

private:
    std::string open_savepoint();
    void write_range(const Rows& rows, std::size_t first, std::size_t last, WriteOutcome& out);
    void copy_range(const Rows& rows, std::size_t first, std::size_t last, WriteOutcome& out);
    void merge_staged(std::uint64_t staged, WriteOutcome& out);
    std::uint64_t collisions(const std::string& sql, WriteOutcome& out);
    void reject(const Rows& rows, std::size_t i, const PgError& e, WriteOutcome& out);
    void start_staging();

    Connection& conn_;
    CopyTarget target_;
    std::string key_, group_;     // the key and group columns, quoted
    std::string copy_sql_;        // straight into the target
    std::string stage_copy_sql_;  // into the staging table
    std::string first_sql_;       // staged rows whose key a group sorting first also holds: out
    std::string update_sql_;      // staged rows present with their key and group, and different
    std::string merge_sql_;       // staging -> target, skipping present keys
    std::string holders_sql_;     // staged rows whose key the target holds for another group
    bool staging_ = false;
    std::size_t savepoints_ = 0;
    bool release_due_ = false;  // the last range's savepoint is still to be released
    bool begin_due_ = false;    // the caller's transaction is still to be begun (begin_with_next())
};

}  // namespace sluice::engine
