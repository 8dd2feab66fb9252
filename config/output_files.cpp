// The export files a command writes, checked before anything is written (check_output_files in
// config/run_config.h): a bad path is one UsageError line, not a failure after hours of backfill.
#include "config/run_config.h"

#include "engine/output_file.h"  // header-only: which file an export replaces

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <unistd.h>

namespace sluice::config {

namespace {

void check_output_file(const std::string& option, const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ignored;
    const fs::file_status status = fs::status(path, ignored);  // a symlink followed
    if (fs::is_directory(status)) throw UsageError(option + ": '" + path + "' is a directory; give a file name");
    if (fs::exists(status) && !fs::is_regular_file(status)) {
        // A device, a FIFO: written in place, never replaced, so it is the file that must be writable.
        if (::access(path.c_str(), W_OK) != 0)
            throw UsageError(option + ": cannot write '" + path + "': " + std::strerror(errno));
        return;
    }
    // A symlink to a regular file, or a dangling one: its target is what gets replaced.
    const fs::path file = engine::export_target(path);
    if (fs::is_directory(file.string() + ".partial", ignored))
        throw UsageError(option + ": '" + file.string() + ".partial', where the file is written first, is a directory");
    const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
    if (!fs::is_directory(dir, ignored))
        throw UsageError(option + ": cannot write '" + path + "': there is no directory '" + dir.string() + "'");
    // A regular file is written as <file>.partial and renamed: the directory is what must be writable.
    if (::access(dir.c_str(), W_OK | X_OK) != 0)
        throw UsageError(option + ": cannot write '" + path + "': directory '" + dir.string() +
                         "': " + std::strerror(errno));
}

// The default export is a new file in the working directory: that directory must be writable.
std::string reject_file_or_default(const RunConfig& config) {
    return config.reject_file.empty() ? "sluice-rejects-DATABASE-SCHEMA-UTCTIME.jsonl" : config.reject_file;
}

}  // namespace

void check_output_files(const RunConfig& config) {
    switch (config.command) {
        case Command::migrate:
        case Command::check:
            check_output_file("--reject-file", reject_file_or_default(config));
            if (!config.summary_json.empty()) check_output_file("--summary-json", config.summary_json);
            break;
        case Command::cleanup:
            check_output_file("--reject-file", reject_file_or_default(config));
            break;
        case Command::verify:
            if (!config.summary_json.empty()) check_output_file("--summary-json", config.summary_json);
            break;
        case Command::rejects:
            if (!config.output.empty()) check_output_file("--output", config.output);
            break;
        default:
            break;
    }
}

}  // namespace sluice::config
