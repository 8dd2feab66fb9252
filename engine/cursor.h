// A server-side cursor read a row at a time: DECLARE ... NO SCROLL CURSOR FOR the query, then
// FETCH FORWARD n in single-row mode, so that no more than the row in hand is held here however
// large the rows are; CLOSE when a FETCH comes back short. The readers' one way to stream a query.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "engine/pg.h"

namespace sluice::engine {

// Serial: one thread, the connection's owner, calls it. The connection must be in a transaction
// (a cursor lives in one) for as long as the cursor is open.
class Cursor {
public:
    // `name` names the cursor on the server (quoted); `fetch_rows` rows per FETCH, at least 1.
    Cursor(Connection& conn, std::string name, std::size_t fetch_rows);

    // Declares the cursor over `query` with `params`; the previous one must be closed (read to its
    // end, or close()d). Throws PgError when the server refuses the query.
    void open(const std::string& query, const std::vector<std::optional<std::string>>& params = {});
    // The next row, as a one-row result; nullptr once every row is read, and the cursor is then
    // closed. nullptr too when no cursor is open. A failed FETCH throws PgError and leaves the
    // cursor closed: it went with the transaction the error aborted.
    Result next();
    // Closes an open cursor before its end, dropping the rows of a FETCH under way; nothing if none.
    void close();
    bool is_open() const { return open_; }

private:
    Connection& conn_;
    std::string name_;  // quoted
    std::size_t fetch_rows_;
    bool open_ = false;
    bool fetching_ = false;    // a FETCH is under way
    std::size_t fetched_ = 0;  // rows it has returned so far
};

}  // namespace sluice::engine
