// The rejects verify accounts for: the keys (ids, or the second job's chat ids) in a job's rejects
// table (sluice_reject), read in verify's snapshot, or,
// once cleanup has dropped that table (or when --rejects-from names it), the ids in cleanup's
// JSON-lines export. Needs only SELECT on the table; a table verify may not read, or one that is
// gone, leaves no known reject, and says so.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>

#include "engine/pg.h"
#include "engine/reject_table.h"

namespace sluice::stages {

class KnownRejects {
public:
    // From `export_file` when not empty (throws std::runtime_error naming the file and line when
    // it cannot be read), else from `table` when it exists and is readable.
    KnownRejects(engine::Connection& conn, const engine::RejectTable& table, const std::string& export_file);
    // Rows, not ids: a duplicate id's losers share one id.
    std::uint64_t size() const { return rows_; }
    bool contains(std::string_view id) { return all_.count(key(id)) > 0; }
    // Rejected by the transform, yet the transform now derives a storable row: the chat changed.
    bool stale(std::string_view id) { return by_transform_.count(key(id)) > 0; }
    // "table \"public\".\"sluice_reject\"", "export sluice-rejects.jsonl", or why there are none.
    const std::string& source() const { return source_; }
    // Whether any list of rejects was read (false: the table is gone or unreadable, and no export given).
    bool found() const { return found_; }

private:
    void read_table(engine::Connection& conn, const engine::RejectTable& table);
    void read_export(const std::string& path, const std::string& key);
    const std::string& key(std::string_view id) {
        key_ = engine::RejectTable::key_text(id);
        return key_;
    }
    std::unordered_set<std::string> all_, by_transform_;
    std::uint64_t rows_ = 0;
    std::string source_, key_;
    bool found_ = false;
};

}  // namespace sluice::stages
