// Where an export goes (the reject file, `sluice rejects --output`, --summary-json): a regular
// file is replaced whole, through "<FILE>.partial", fsync and a rename, so a reader never sees
// half of it; anything else (a device such as /dev/null, a FIFO, a terminal) is written in place,
// never replaced. A symlink is followed: its target is written by the same rule and the link
// stays a link. Not thread-safe: one writer per file.
#pragma once

#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace sluice::engine {

// The file an export to `path` replaces when it is a regular file or does not exist yet: a
// symlink's final target (followed even when it does not exist yet, so that the rename replaces
// the target and the link stays a link), else `path` itself. Header-only: config checks the same
// file before the run.
inline std::filesystem::path export_target(const std::filesystem::path& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path file = path;
    for (int hops = 0; hops < 40 && fs::is_symlink(file, ec); ++hops) {  // 40: the kernel's own limit
        const fs::path to = fs::read_symlink(file, ec);
        if (ec) break;
        file = to.is_absolute() ? to : file.parent_path() / to;
    }
    const fs::path resolved = fs::weakly_canonical(file, ec);
    return ec ? file : resolved;
}

class OutputFile {
public:
    // Opens `path` for writing (a FIFO waits here for its reader, as a shell's `>` does); `what`
    // names the export in errors ("reject export", "--summary-json"). Throws std::runtime_error
    // naming the file and the reason.
    OutputFile(const std::string& path, std::string what);
    // Unfinished: the partial file is removed and the file it would replace is left as it was.
    ~OutputFile();
    OutputFile(const OutputFile&) = delete;
    OutputFile& operator=(const OutputFile&) = delete;

    void write(std::string_view bytes);
    // Flushes; a regular file is synced and renamed into place. Throws as the constructor does.
    void finish();

private:
    [[noreturn]] void fail(const std::string& doing, const std::string& path);

    std::string what_;
    std::string target_;   // the file written: the path, or a symlink's target
    std::string partial_;  // "<target>.partial" for a regular file; empty when written in place
    std::FILE* file_ = nullptr;
};

// Writes `text` to `path` as OutputFile does, in one go.
void write_output_file(const std::string& path, const std::string& what, std::string_view text);

}  // namespace sluice::engine
