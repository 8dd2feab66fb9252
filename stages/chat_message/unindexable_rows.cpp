// Unindexable rows: candidates by size, each tried in an indexed probe table, then moved.
#include "stages/chat_message/unindexable_rows.h"

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/older_snapshots.h"
#include "stages/chat_message/moved_rows.h"

namespace sluice::stages {

namespace {

// Below this many bytes of indexed values a row always fits a btree entry (at most ~2.7 kB).
constexpr int kCandidateBytes = 2000;
// How long the next build waits for older snapshots (an open transaction elsewhere) to end.
constexpr std::chrono::seconds kSnapshotPatience{600};

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

// Tries each candidate row in a probe table indexed like the failed index; inside the caller's
// transaction, each try under a savepoint of its own.
std::vector<RowToReject> find_unindexable(engine::Connection& conn, const Target& t, const std::string& columns) {
    std::string size, list;
    for (const std::string& c : split_columns(columns)) {
        size += (size.empty() ? "" : " + ") + std::string("coalesce(octet_length(") + engine::quote_ident(c) +
                "::text), 0)";
        list += (list.empty() ? "" : ", ") + engine::quote_ident(c);
    }
    conn.exec("CREATE TEMPORARY TABLE sluice_probe ON COMMIT DROP AS SELECT " + list + " FROM " + t.qualified() +
              " WITH NO DATA");
    conn.exec("CREATE INDEX ON pg_temp.sluice_probe (" + list + ")");
    engine::Result candidates = conn.exec("SELECT ctid::text, chat_id FROM " + t.qualified() + " WHERE " + size +
                                          " > " + std::to_string(kCandidateBytes));
    std::vector<RowToReject> found;
    for (int i = 0; i < PQntuples(candidates.get()); ++i) {
        std::string ctid = PQgetvalue(candidates.get(), i, 0);
        conn.exec("SAVEPOINT sluice_probe_row");
        try {
            conn.exec(
                "INSERT INTO pg_temp.sluice_probe SELECT " + list + " FROM " + t.qualified() + " WHERE ctid = $1::tid",
                {ctid});
            conn.exec("RELEASE SAVEPOINT sluice_probe_row");
        } catch (const engine::PgError& e) {
            if (e.sqlstate() != "54000") throw;
            conn.exec("ROLLBACK TO SAVEPOINT sluice_probe_row");
            conn.exec("RELEASE SAVEPOINT sluice_probe_row");
            found.push_back({ctid, PQgetvalue(candidates.get(), i, 1), "54000",
                             "too large for an index entry on (" + columns + "): " + e.message()});
        }
    }
    return found;
}

}  // namespace

std::uint64_t reject_unindexable_rows(engine::Connection& conn, const Target& t, const char* columns,
                                      std::optional<std::uint64_t> max_rejects) {
    std::string xid;
    std::size_t moved = 0;
    engine::in_transaction(conn, [&] {
        std::vector<RowToReject> rows = find_unindexable(conn, t, columns);
        move_to_rejects(conn, t, rows, max_rejects, "rows hold values too large for an index entry");
        if (!rows.empty()) xid = engine::current_transaction_id(conn);
        moved = rows.size();
    });
    // The rows are gone, but a build still indexes them while any snapshot from before may see them.
    if (moved > 0) engine::wait_for_older_snapshots(conn, xid, kSnapshotPatience);
    return moved;
}

}  // namespace sluice::stages
