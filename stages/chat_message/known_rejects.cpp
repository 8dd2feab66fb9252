// The known rejects: the table, or cleanup's export of it, one JSON object a line.
#include "stages/chat_message/known_rejects.h"

#include <rapidjson/document.h>

#include <fstream>
#include <stdexcept>

namespace sluice::stages {

KnownRejects::KnownRejects(engine::Connection& conn, const engine::RejectTable& table, const std::string& export_file) {
    if (!export_file.empty())
        read_export(export_file, table.key_name());
    else
        read_table(conn, table);
}

void KnownRejects::read_table(engine::Connection& conn, const engine::RejectTable& table) {
    engine::Result r = conn.exec("SELECT to_regclass($1) IS NOT NULL, has_table_privilege(to_regclass($1), 'SELECT')",
                                 {table.qualified_name()});
    if (PQgetvalue(r.get(), 0, 0)[0] != 't') {
        source_ = "none: table " + table.qualified_name() +
                  " is gone (after sluice cleanup, pass its export with "
                  "--rejects-from FILE)";
        return;
    }
    if (PQgetvalue(r.get(), 0, 1)[0] != 't') {
        source_ = "none: this user may not read table " + table.qualified_name() +
                  " (GRANT SELECT on it, or pass an export with --rejects-from FILE)";
        return;
    }
    all_ = table.keys(conn);
    by_transform_ = table.keys_found_by_transform(conn);
    rows_ = table.count(conn);
    source_ = "table " + table.qualified_name();
    found_ = true;
}

// Each line as the export writes it: {"id": ..., "chat_id": ..., "sqlstate": ..., "message": ...,
// "found_by": ..., "row": ...}, the key (here "id") as the table stored it.
void KnownRejects::read_export(const std::string& path, const std::string& key) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("--rejects-from: cannot read '" + path + "'");
    std::string line;
    for (std::uint64_t number = 1; std::getline(in, line); ++number) {
        if (line.empty()) continue;
        // The stored row comes last and is left unparsed: it may hold what a JSON parser refuses
        // (1e400, a lone surrogate), which is often why it was rejected. Before it every quote
        // inside a value is escaped, so the first ,"row": is the key.
        if (const std::size_t row = line.find(",\"row\":"); row != std::string::npos) line = line.substr(0, row) + "}";
        rapidjson::Document d;
        d.Parse(line.c_str(), line.size());
        const char* name = key.c_str();
        if (d.HasParseError() || !d.IsObject() || !d.HasMember(name) || !d[name].IsString())
            throw std::runtime_error("--rejects-from: '" + path + "' line " + std::to_string(number) +
                                     " is not a reject as sluice exports it (a JSON object with an \"" + key + "\")");
        const std::string id(d[name].GetString(), d[name].GetStringLength());
        all_.insert(id);
        if (d.HasMember("found_by") && d["found_by"].IsString() &&
            std::string(d["found_by"].GetString()) == "transform")
            by_transform_.insert(id);
        ++rows_;
    }
    source_ = "export " + path;
    found_ = true;
}

}  // namespace sluice::stages
