// The reject export's default name.
#include "stages/commands/reject_file_name.h"

#include <filesystem>

namespace sluice::stages {

namespace {

std::string file_safe(const std::string& text) {
    std::string safe = text;
    for (char& c : safe) {
        const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                           c == '_' || c == '-';
        if (!plain) c = '_';
    }
    return safe;
}

}  // namespace

std::string default_reject_file(const std::string& database, const std::string& schema, std::time_t at,
                                const std::function<bool(const std::string&)>& taken) {
    std::tm utc{};
    gmtime_r(&at, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
    const std::string stem = "sluice-rejects-" + file_safe(database) + "-" + file_safe(schema) + "-" + stamp;
    std::string name = stem + ".jsonl";
    for (int n = 2; taken(name); ++n)
        name = stem + "-" + std::to_string(n) + ".jsonl";
    return name;
}

std::string reject_file_for(engine::Connection& conn, const config::RunConfig& cfg) {
    if (!cfg.reject_file.empty()) return cfg.reject_file;
    engine::Result r = conn.exec("SELECT current_database()");
    // A dangling symlink is a name in use too: symlink_status does not follow it.
    auto taken = [](const std::string& name) {
        std::error_code ec;
        return std::filesystem::exists(std::filesystem::symlink_status(name, ec));
    };
    return default_reject_file(PQgetvalue(r.get(), 0, 0), cfg.schema, std::time(nullptr), taken);
}

}  // namespace sluice::stages
