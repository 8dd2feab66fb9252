// Unindexable rows: candidates by size, each tried in an indexed probe table, then moved.
#include "stages/unindexable_rows.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "stages/checkpoint.h"

namespace sluice::stages {

namespace {

// Below this many bytes of indexed values a row always fits a btree entry (at most ~2.7 kB).
constexpr int kCandidateBytes = 2000;

std::vector<std::string> split_columns(const std::string& columns) {
    std::vector<std::string> out;
    for (std::size_t at = 0; at <= columns.size();) {
        std::size_t comma = columns.find(',', at);
        if (comma == std::string::npos) comma = columns.size();
        std::string c = columns.substr(at, comma - at);
        c.erase(0, c.find_first_not_of(' '));
        out.push_back(c);
        at = comma + 1;
    }
    return out;
}

struct Unindexable {
    std::string id;
    std::string chat_id;
    std::string message;
};

// Tries each candidate row in a probe table indexed like the failed index; inside the caller's
// transaction, each try under a savepoint of its own.
std::vector<Unindexable> find_unindexable(engine::Connection& conn, const Target& t, const std::string& columns) {
    std::string size, list;
    for (const std::string& c : split_columns(columns)) {
        size += (size.empty() ? "" : " + ") + std::string("coalesce(octet_length(") + engine::quote_ident(c) +
                "::text), 0)";
        list += (list.empty() ? "" : ", ") + engine::quote_ident(c);
    }
    conn.exec("CREATE TEMPORARY TABLE sluice_probe ON COMMIT DROP AS SELECT " + list + " FROM " + t.qualified() +
              " WITH NO DATA");
    conn.exec("CREATE INDEX ON pg_temp.sluice_probe (" + list + ")");
    engine::Result candidates =
        conn.exec("SELECT id, chat_id FROM " + t.qualified() + " WHERE " + size + " > " + std::to_string(kCandidateBytes));
    std::vector<Unindexable> found;
    for (int i = 0; i < PQntuples(candidates.get()); ++i) {
        std::string id = PQgetvalue(candidates.get(), i, 0);
        conn.exec("SAVEPOINT sluice_probe_row");
        try {
            conn.exec("INSERT INTO pg_temp.sluice_probe SELECT " + list + " FROM " + t.qualified() + " WHERE id = $1",
                      {id});
            conn.exec("RELEASE SAVEPOINT sluice_probe_row");
        } catch (const engine::PgError& e) {
            if (e.sqlstate() != "54000") throw;
            conn.exec("ROLLBACK TO SAVEPOINT sluice_probe_row");
            conn.exec("RELEASE SAVEPOINT sluice_probe_row");
            found.push_back({id, PQgetvalue(candidates.get(), i, 1), "too large for an index entry on (" + columns + "): " + e.message()});
        }
    }
    return found;
}

}  // namespace

std::uint64_t reject_unindexable_rows(engine::Connection& conn, const Target& t, const char* columns,
                                      std::optional<std::uint64_t> max_rejects) {
    conn.exec("BEGIN");
    try {
        std::vector<Unindexable> rows = find_unindexable(conn, t, columns);
        if (rows.empty()) {  // another connection moved them first, or it was not a row's size after all
            conn.exec("ROLLBACK");
            return 0;
        }
        std::optional<Checkpoint> cp = load_checkpoint(conn, t.schema);
        const std::uint64_t rejected = (cp ? cp->rejected : 0) + rows.size();
        if (max_rejects && rejected > *max_rejects) {
            throw std::runtime_error(std::to_string(rows.size()) + " rows hold values too large for an index entry; "
                                     "rejecting them would make " + std::to_string(rejected) +
                                     " rejects, more than --max-rejects " + std::to_string(*max_rejects) + " allows");
        }
        const std::string rejects = reject_table(t.schema).qualified_name();
        for (const Unindexable& row : rows) {
            conn.exec("INSERT INTO " + rejects + " (id, chat_id, sqlstate, message, found_by, row)"
                      " SELECT id, chat_id, '54000', $2, 'server', row_to_json(m) FROM " + t.qualified() +
                      " m WHERE id = $1", {row.id, row.message});
            conn.exec("DELETE FROM " + t.qualified() + " WHERE id = $1", {row.id});
        }
        std::vector<std::string> chats;
        for (const Unindexable& row : rows) chats.push_back(row.chat_id);
        count_moved_to_rejects(conn, t.schema, chats);
        conn.exec("COMMIT");
        return rows.size();
    } catch (...) {
        if (PQtransactionStatus(conn.raw()) != PQTRANS_IDLE) PQclear(PQexec(conn.raw(), "ROLLBACK"));
        throw;
    }
}

}  // namespace sluice::stages
