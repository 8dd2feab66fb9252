// engine::classify: what the writer does about a failed statement, from its SQLSTATE alone.
#include <doctest/doctest.h>

#include "engine/pg.h"

using sluice::engine::classify;
using sluice::engine::ErrorAction;

TEST_CASE("each SQLSTATE maps to the writer's one action for it") {
    const struct {
        const char* sqlstate;
        ErrorAction action;
        const char* what;
    } cases[] = {
        {"22021", ErrorAction::reject_row, "invalid byte sequence: the row's fault"},
        {"22P02", ErrorAction::reject_row, "invalid text representation"},
        {"23505", ErrorAction::reject_row, "unique violation: the row is already there"},
        {"23502", ErrorAction::reject_row, "not-null violation"},
        {"54000", ErrorAction::reject_row, "a value too large for a btree entry"},
        {"54001", ErrorAction::stop, "statement too complex is not a row's fault"},
        {"40001", ErrorAction::retry_batch, "serialization failure"},
        {"40P01", ErrorAction::retry_batch, "deadlock"},
        {"08006", ErrorAction::reconnect, "connection failure"},
        {"57P01", ErrorAction::reconnect, "admin shutdown"},
        {"57P03", ErrorAction::reconnect, "cannot connect now"},
        {"42501", ErrorAction::stop, "insufficient privilege"},
        {"53100", ErrorAction::stop, "disk full"},
        {"", ErrorAction::stop, "no SQLSTATE at all"},
    };
    for (const auto& c : cases) {
        CHECK_MESSAGE(classify(c.sqlstate) == c.action, c.sqlstate << " (" << c.what << ") maps to the wrong action");
    }
}

TEST_CASE("a retry line names the statement's kind, not its text, and drops libpq's FATAL prefix") {
    using sluice::engine::brief;
    using sluice::engine::PgError;
    CHECK(brief(PgError("SELECT count(*) FROM \"public\".\"chat\" WHERE id > $1: terminating connection due to "
                        "administrator command",
                        "57P01")) == "SELECT: terminating connection due to administrator command");
    CHECK(
        brief(PgError("CREATE UNIQUE INDEX CONCURRENTLY ix ON t (id): server closed the connection unexpectedly\n"
                      "\tThis probably means the server terminated abnormally",
                      "08006")) ==
        "CREATE UNIQUE INDEX CONCURRENTLY: server closed the connection unexpectedly \tThis probably means the server "
        "terminated abnormally");
    CHECK(brief(PgError("COPY end: FATAL:  terminating connection due to administrator command\n", "57P01")) ==
          "COPY: terminating connection due to administrator command");
}
