// The rejects table: every row that could not be stored, kept in the database itself, in the
// same transaction as the checkpoint that covers it, so a lost container, another working
// directory or a second run never loses or tears one. A reject file is only an export of it.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "engine/batch.h"
#include "engine/pg.h"

namespace sluice::engine {

// One table <schema>.<name> (key, grp, sqlstate, message, found_by, row json, rejected_at), where
// the key and group columns carry the names the job gives them (e.g. id, chat_id). Holds no
// connection: each call runs on the caller's, inside the caller's transaction where it has one.
class RejectTable {
public:
    RejectTable(std::string schema, std::string name, std::string key_name, std::string group_name);

    void create(Connection& conn) const;  // if it does not exist
    bool exists(Connection& conn) const;
    void insert(Connection& conn, const std::vector<Reject>& rejects) const;
    std::uint64_t count(Connection& conn) const;  // 0 when the table does not exist
    void clear(Connection& conn) const;           // every reject: the rows are about to be derived again
    // The keys of rejects the transform found (not those PostgreSQL refused), as key_text() gives them.
    std::unordered_set<std::string> keys_found_by_transform(Connection& conn) const;
    std::unordered_set<std::string> keys(Connection& conn) const;

    // Writes every reject as one JSON object a line ({key, group, sqlstate, message, found_by,
    // row}) to `path` (standard output when empty) as engine/output_file.h writes an export: a
    // regular file replaced whole, a device or FIFO written in place, a symlink followed; returns the lines.
    // Throws std::runtime_error naming the file when it cannot be written.
    std::uint64_t export_to(Connection& conn, const std::string& path) const;

    const std::string& qualified_name() const { return table_; }
    const std::string& key_name() const { return key_; }  // the key column's, and the export's member

    // A key as the table stores it: the bytes themselves when a text column can hold them, else
    // the inside of their JSON string (a NUL as \u0000, a lone surrogate as \udXXX), so that the
    // reject is kept and can be matched again by the same rule.
    static std::string key_text(std::string_view bytes);

private:
    std::string schema_, name_, table_, key_, group_;
};

// A limit on the rejects of a run (--max-rejects), shared by every writer: a writer reserves the
// rejects of a transaction before it commits them and releases them if the commit fails, so no
// commit takes the run's total past the limit, however many writers commit at once. Thread-safe.
class RejectLimit {
public:
    // `committed`: the rejects already in the table when the run starts.
    RejectLimit(std::optional<std::uint64_t> limit, std::uint64_t committed);
    // Adds `n`; false, adding nothing, when the total would pass the limit. `total` gets the
    // total with them either way.
    bool reserve(std::uint64_t n, std::uint64_t& total);
    void release(std::uint64_t n);
    const std::optional<std::uint64_t>& limit() const { return limit_; }

private:
    const std::optional<std::uint64_t> limit_;
    std::mutex mutex_;
    std::uint64_t total_;
};

}  // namespace sluice::engine
