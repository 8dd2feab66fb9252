// Older snapshots: who still holds the horizon before a transaction, polled until nobody does.
#include "engine/older_snapshots.h"

#include <stdexcept>

#include "engine/progress.h"

namespace sluice::engine {

namespace {

// A snapshot whose xmin is at or before the deleting transaction may still see its rows as live;
// a transaction that started before it holds the horizon back too. age() counts back from now,
// so an older xid has a greater age. Walsenders (no database) carry a standby's feedback.
constexpr const char* kHolders =
    "SELECT 'pid ' || a.pid || ' (' || coalesce(nullif(a.application_name, ''), a.backend_type, '?') ||"
    "  coalesce(', ' || a.state, '') || ')'"
    " FROM pg_stat_activity a WHERE a.pid <> pg_backend_pid()"
    "  AND (a.datname = current_database() OR a.datname IS NULL)"
    "  AND (age(a.backend_xmin) >= age($1::xid) OR age(a.backend_xid) > age($1::xid))"
    " UNION ALL SELECT 'replication slot ' || s.slot_name FROM pg_replication_slots s"
    "  WHERE age(s.xmin) >= age($1::xid)"
    " UNION ALL SELECT 'prepared transaction ' || p.gid FROM pg_prepared_xacts p"
    "  WHERE p.database = current_database() AND age(p.transaction) > age($1::xid)";

std::string listed(const PGresult* r) {
    std::string out;
    for (int i = 0; i < PQntuples(r); ++i)
        out += (i ? ", " : "") + std::string(PQgetvalue(r, i, 0));
    return out;
}

}  // namespace

std::string current_transaction_id(Connection& conn) {
    // xid8 holds the epoch above the 32 bits of the xid that pg_stat_activity shows.
    Result r = conn.exec("SELECT (pg_current_xact_id()::text::numeric % 4294967296)::text");
    return PQgetvalue(r.get(), 0, 0);
}

void wait_for_older_snapshots(Connection& conn, const std::string& xid, std::chrono::seconds patience) {
    const auto until = std::chrono::steady_clock::now() + patience;
    for (bool shown = false;; shown = true) {
        Result holders = conn.exec(kHolders, {xid});
        if (PQntuples(holders.get()) == 0) {
            if (shown) show_progress("");
            return;
        }
        if (std::chrono::steady_clock::now() >= until) {
            throw std::runtime_error("rows were moved out of the table, but " + listed(holders.get()) +
                                     " still holds a snapshot that sees them, and an index built now would still meet "
                                     "them; end that transaction (or let it finish), then run sluice migrate again");
        }
        show_progress("waiting for snapshots that still see the rows moved out: " + listed(holders.get()));
        conn.exec("SELECT pg_sleep(0.2)");  // on the server, so that a stop request cancels it
    }
}

}  // namespace sluice::engine
