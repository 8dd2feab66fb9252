// The reject file: one JSON line per row that could not be stored, with its key, its group,
// PostgreSQL's SQLSTATE and message, and the row itself. Lines are synced to disk before the
// transaction that covers them commits, and a resumed run first cuts the file back to the
// number of rejects its checkpoint recorded, so the file always matches the database.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/batch.h"

namespace sluice::engine {

class RejectFile {
public:
    // Opens `path`, keeping its first `keep_lines` lines (0 for a fresh run). Throws
    // std::runtime_error naming the file when it cannot be written.
    RejectFile(std::string path, std::uint64_t keep_lines, std::string key_name, std::string group_name);
    ~RejectFile();
    RejectFile(const RejectFile&) = delete;
    RejectFile& operator=(const RejectFile&) = delete;

    void append(const Reject& reject);
    void sync();  // flush and fsync: the lines survive a crash from here on
    std::uint64_t lines() const { return lines_; }
    const std::string& path() const { return path_; }

private:
    std::string path_, key_name_, group_name_;
    std::FILE* file_ = nullptr;
    std::uint64_t lines_ = 0;
    std::string line_;
};

}  // namespace sluice::engine
