// The reject file: truncation to the checkpoint on resume, JSON lines, fsync before commit.
#include "engine/reject_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <unistd.h>

#include "engine/copy_binary.h"

namespace sluice::engine {

namespace {

std::runtime_error file_error(const std::string& what, const std::string& path) {
    return std::runtime_error("reject file " + path + ": " + what + ": " + std::strerror(errno));
}

// The byte offset just past the first `lines` lines of `file` (its size if it has fewer).
long offset_after_lines(std::FILE* file, std::uint64_t lines, std::uint64_t& found) {
    found = 0;
    std::rewind(file);
    int c;
    while (found < lines && (c = std::fgetc(file)) != EOF) {
        if (c == '\n') ++found;
    }
    return std::ftell(file);
}

}  // namespace

RejectFile::RejectFile(std::string path, std::uint64_t keep_lines, std::string key_name, std::string group_name)
    : path_(std::move(path)), key_name_(std::move(key_name)), group_name_(std::move(group_name)) {
    file_ = std::fopen(path_.c_str(), keep_lines > 0 ? "a+" : "w");
    if (!file_) throw file_error("cannot open", path_);
    if (keep_lines > 0) {
        long end = offset_after_lines(file_, keep_lines, lines_);
        if (end < 0 || ftruncate(fileno(file_), end) != 0) throw file_error("cannot cut back to the checkpoint", path_);
        std::fseek(file_, 0, SEEK_END);
    }
}

RejectFile::~RejectFile() {
    if (file_) std::fclose(file_);
}

void RejectFile::append(const Reject& r) {
    line_ = "{\"" + key_name_ + "\":";
    append_json_string(line_, r.key);
    line_ += ",\"" + group_name_ + "\":";
    append_json_string(line_, r.group);
    line_ += ",\"sqlstate\":";
    append_json_string(line_, r.sqlstate);
    line_ += ",\"message\":";
    append_json_string(line_, r.message);
    line_ += ",\"row\":";
    // The row holds JSON values sliced from the source as written: a raw line break there is
    // whitespace between tokens (JSON escapes it inside strings), and must not split the line.
    std::size_t row_at = line_.size();
    line_ += r.row_json;
    std::replace_if(line_.begin() + static_cast<std::ptrdiff_t>(row_at), line_.end(),
                    [](char c) { return c == '\n' || c == '\r'; }, ' ');
    line_ += "}\n";
    if (std::fwrite(line_.data(), 1, line_.size(), file_) != line_.size()) throw file_error("cannot write", path_);
    ++lines_;
}

void RejectFile::sync() {
    if (std::fflush(file_) != 0 || fsync(fileno(file_)) != 0) throw file_error("cannot sync", path_);
}

}  // namespace sluice::engine
