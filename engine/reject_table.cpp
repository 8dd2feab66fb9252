// The rejects table: created, filled inside the writer's transactions, read back, exported.
#include "engine/reject_table.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "engine/copy_binary.h"
#include "engine/output_file.h"
#include "engine/utf8.h"

namespace sluice::engine {

namespace {

std::string_view text(const PGresult* r, int row, int column) {
    return {PQgetvalue(r, row, column), static_cast<std::size_t>(PQgetlength(r, row, column))};
}

}  // namespace

RejectTable::RejectTable(std::string schema, std::string name, std::string key_name, std::string group_name)
    : schema_(std::move(schema)),
      name_(std::move(name)),
      table_(qualified(schema_, name_)),
      key_(std::move(key_name)),
      group_(std::move(group_name)) {}

std::string RejectTable::key_text(std::string_view bytes) {
    if (storable_as_text(bytes)) return std::string(bytes);
    std::string quoted;
    append_json_string(quoted, bytes);
    return quoted.substr(1, quoted.size() - 2);
}

void RejectTable::create(Connection& conn) const {
    // `n` keeps the order the rejects were found in, for the export.
    conn.exec("CREATE TABLE IF NOT EXISTS " + table_ + " (n bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, " +
              quote_ident(key_) + " text NOT NULL, " + quote_ident(group_) +
              " text, sqlstate text NOT NULL, message text NOT NULL, found_by text NOT NULL,"
              " row json, rejected_at timestamptz NOT NULL DEFAULT now())");
}

bool RejectTable::exists(Connection& conn) const {
    Result r = conn.exec("SELECT to_regclass($1) IS NOT NULL", {table_});
    return PQgetvalue(r.get(), 0, 0)[0] == 't';
}

void RejectTable::insert(Connection& conn, const std::vector<Reject>& rejects) const {
    const std::string sql = "INSERT INTO " + table_ + " (" + quote_ident(key_) + ", " + quote_ident(group_) +
                            ", sqlstate, message, found_by, row) VALUES ($1, $2, $3, $4, $5, $6::json)";
    for (const Reject& r : rejects) {
        // The row JSON holds values sliced from the source as written; line breaks between tokens
        // are whitespace, and the export keeps one reject a line.
        std::string row = r.row_json;
        std::replace_if(
            row.begin(), row.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
        conn.exec(sql, {key_text(r.key), key_text(r.group), r.sqlstate, key_text(r.message),
                        std::string(r.by_server ? "server" : "transform"),
                        row.empty() ? std::nullopt : std::optional<std::string>(std::move(row))});
    }
}

std::uint64_t RejectTable::count(Connection& conn) const {
    if (!exists(conn)) return 0;
    Result r = conn.exec("SELECT count(*) FROM " + table_);
    return std::strtoull(PQgetvalue(r.get(), 0, 0), nullptr, 10);
}

void RejectTable::clear(Connection& conn) const {
    if (exists(conn)) conn.exec("DELETE FROM " + table_);
}

std::unordered_set<std::string> RejectTable::keys_found_by_transform(Connection& conn) const {
    std::unordered_set<std::string> out;
    if (!exists(conn)) return out;
    Result r = conn.exec("SELECT " + quote_ident(key_) + " FROM " + table_ + " WHERE found_by = 'transform'");
    for (int i = 0; i < PQntuples(r.get()); ++i)
        out.emplace(text(r.get(), i, 0));
    return out;
}

std::unordered_set<std::string> RejectTable::keys(Connection& conn) const {
    std::unordered_set<std::string> out;
    if (!exists(conn)) return out;
    Result r = conn.exec("SELECT " + quote_ident(key_) + " FROM " + table_);
    for (int i = 0; i < PQntuples(r.get()); ++i)
        out.emplace(text(r.get(), i, 0));
    return out;
}

std::uint64_t RejectTable::export_to(Connection& conn, const std::string& path) const {
    std::optional<OutputFile> to_file;
    if (!path.empty()) to_file.emplace(path, "reject export");
    auto write = [&](const std::string& line) {
        if (to_file) return to_file->write(line);
        if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size())
            throw std::runtime_error(std::string("reject export to standard output: ") + std::strerror(errno));
    };
    std::uint64_t lines = 0;
    if (exists(conn)) {
        conn.send_single_row_query("SELECT " + quote_ident(key_) + ", " + quote_ident(group_) +
                                   ", sqlstate, message, found_by, row FROM " + table_ + " ORDER BY " +
                                   quote_ident(group_) + ", n");
        std::string line;
        while (Result r = conn.next_row()) {
            line = "{";
            for (int c = 0; c < 5; ++c) {
                const char* names[] = {key_.c_str(), group_.c_str(), "sqlstate", "message", "found_by"};
                if (c > 0) line += ",";
                append_json_string(line, names[c]);
                line += ":";
                if (PQgetisnull(r.get(), 0, c))
                    line += "null";
                else
                    append_json_string(line, text(r.get(), 0, c));
            }
            line += ",\"row\":";
            line += PQgetisnull(r.get(), 0, 5) ? std::string_view("null") : text(r.get(), 0, 5);
            line += "}\n";
            write(line);
            ++lines;
        }
    }
    if (to_file)
        to_file->finish();
    else if (std::fflush(stdout) != 0)
        throw std::runtime_error(std::string("reject export to standard output: ") + std::strerror(errno));
    return lines;
}

RejectLimit::RejectLimit(std::optional<std::uint64_t> limit, std::uint64_t committed)
    : limit_(limit), total_(committed) {}

bool RejectLimit::reserve(std::uint64_t n, std::uint64_t& total) {
    std::lock_guard<std::mutex> lock(mutex_);
    total = total_ + n;
    if (limit_ && total > *limit_) return false;
    total_ = total;
    return true;
}

void RejectLimit::release(std::uint64_t n) {
    std::lock_guard<std::mutex> lock(mutex_);
    total_ -= std::min(n, total_);
}

}  // namespace sluice::engine
