// The single-row cursor loop: one FETCH at a time in single-row mode; a FETCH that returns fewer
// rows than asked means the cursor is at its end.
#include "engine/cursor.h"

#include <utility>

namespace sluice::engine {

Cursor::Cursor(Connection& conn, std::string name, std::size_t fetch_rows)
    : conn_(conn), name_(quote_ident(name)), fetch_rows_(fetch_rows) {}

void Cursor::open(const std::string& query, const std::vector<std::optional<std::string>>& params) {
    conn_.exec("DECLARE " + name_ + " NO SCROLL CURSOR FOR " + query, params);
    open_ = true;
}

Result Cursor::next() {
    if (!open_) return nullptr;
    if (!fetching_) {
        conn_.send_single_row_query("FETCH FORWARD " + std::to_string(fetch_rows_) + " FROM " + name_);
        fetching_ = true;
        fetched_ = 0;
    }
    Result row;
    try {
        row = conn_.next_row();
    } catch (const PgError&) {
        // next_row() read the failed FETCH out, and the cursor went with its aborted transaction.
        fetching_ = open_ = false;
        throw;
    }
    if (row) {
        ++fetched_;
        return row;
    }
    fetching_ = false;
    if (fetched_ < fetch_rows_) {  // a short FETCH: the cursor is at its end
        close();
        return nullptr;
    }
    return next();
}

void Cursor::close() {
    if (!open_) return;
    fetching_ = false;  // PQexec reads out and drops the rows of a FETCH under way before it sends CLOSE
    conn_.exec("CLOSE " + name_);
    open_ = false;
}

}  // namespace sluice::engine
