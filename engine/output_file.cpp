// Exports: in place to what is not a regular file, partial file and rename to what is.
#include "engine/output_file.h"

#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace sluice::engine {

namespace {

// Whether the path names something other than a regular file (a device, a FIFO, a socket), a
// symlink followed; stat() also follows /proc's links, so /dev/stdout on a pipe is a FIFO here.
bool special(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode);
}

}  // namespace

OutputFile::OutputFile(const std::string& path, std::string what) : what_(std::move(what)), target_(path) {
    if (special(path)) {
        // "w" would truncate; a device or a FIFO has nothing to truncate, and must not be replaced.
        file_ = std::fopen(target_.c_str(), "a");
        if (!file_) fail("cannot write", target_);
        return;
    }
    target_ = export_target(path).string();
    partial_ = target_ + ".partial";
    file_ = std::fopen(partial_.c_str(), "w");
    if (!file_) fail("cannot write", partial_);
}

OutputFile::~OutputFile() {
    if (!file_) return;
    std::fclose(file_);
    if (!partial_.empty()) std::remove(partial_.c_str());
}

void OutputFile::fail(const std::string& doing, const std::string& path) {
    throw std::runtime_error(what_ + " " + path + ": " + doing + ": " + std::strerror(errno));
}

void OutputFile::write(std::string_view bytes) {
    if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size())
        fail("cannot write", partial_.empty() ? target_ : partial_);
}

void OutputFile::finish() {
    const std::string& written = partial_.empty() ? target_ : partial_;
    if (std::fflush(file_) != 0) fail("cannot write", written);
    // A device or a FIFO is not synced: /dev/null and a pipe refuse fsync, and hold nothing to keep.
    const bool synced = partial_.empty() || fsync(fileno(file_)) == 0;
    const bool closed = std::fclose(file_) == 0;
    file_ = nullptr;
    if (!synced || !closed) {
        if (!partial_.empty()) std::remove(partial_.c_str());
        fail("cannot sync", written);
    }
    if (partial_.empty()) return;
    if (std::rename(partial_.c_str(), target_.c_str()) != 0) {
        std::remove(partial_.c_str());
        fail("cannot rename to it from .partial", target_);
    }
}

void write_output_file(const std::string& path, const std::string& what, std::string_view text) {
    OutputFile file(path, what);
    file.write(text);
    file.finish();
}

}  // namespace sluice::engine
