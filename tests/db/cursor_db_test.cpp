// engine::Cursor against a real PostgreSQL (see db_fixture.h): a query streamed a row at a time,
// every row once and in order whether or not the rows fill the last FETCH; the cursor closes at
// its end and opens again; closing it mid-stream leaves the connection usable.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/cursor.h"
#include "tests/db/db_fixture.h"

using namespace sluice::testing;
using sluice::engine::Cursor;

namespace {

// The first column of every row the cursor gives, to its end.
std::vector<std::string> drain(Cursor& cursor) {
    std::vector<std::string> values;
    while (sluice::engine::Result row = cursor.next()) {
        REQUIRE_MESSAGE(PQntuples(row.get()) == 1, "a row came as a result of " << PQntuples(row.get()) << " rows");
        values.emplace_back(PQgetvalue(row.get(), 0, 0));
    }
    return values;
}

std::vector<std::string> numbers(int from, int to) {
    std::vector<std::string> values;
    for (int i = from; i <= to; ++i)
        values.push_back(std::to_string(i));
    return values;
}

// Whether the server still has a cursor of that name on the connection.
bool declared(Connection& conn, const std::string& name) {
    return scalar(conn, "SELECT count(*) FROM pg_cursors WHERE name = $1", {name}) == "1";
}

}  // namespace

TEST_CASE("a cursor gives every row once, in order, across FETCHes, whether or not the last one is full") {
    TestDatabase db;
    Connection& conn = db.sql();
    for (int rows : {0, 1, 2, 3, 6, 7}) {
        CAPTURE(rows);
        conn.exec("BEGIN");
        Cursor cursor(conn, "test cursor", 3);  // a name that needs quoting
        cursor.open("SELECT g::text FROM generate_series(1, $1::int) g ORDER BY g", {std::to_string(rows)});
        CHECK_MESSAGE(drain(cursor) == numbers(1, rows), "the rows of generate_series(1, " << rows << ")");
        CHECK_MESSAGE(!cursor.is_open(), "the cursor should say it is closed at its end");
        CHECK_MESSAGE(!declared(conn, "test cursor"), "the server still has the cursor after its end");
        CHECK_MESSAGE(cursor.next() == nullptr, "a closed cursor gave a row");
        conn.exec("COMMIT");
    }
}

TEST_CASE("a cursor read to its end opens again on the next query, in the same transaction") {
    TestDatabase db;
    Connection& conn = db.sql();
    conn.exec("BEGIN");
    Cursor cursor(conn, "ranges", 2);
    cursor.open("SELECT g::text FROM generate_series(1, 5) g WHERE g <= $1 ORDER BY g", {"3"});
    CHECK(drain(cursor) == numbers(1, 3));
    cursor.open("SELECT g::text FROM generate_series(1, 5) g WHERE g > $1 ORDER BY g", {"3"});
    CHECK_MESSAGE(drain(cursor) == numbers(4, 5), "the second range");
    conn.exec("COMMIT");
}

TEST_CASE("closing a cursor in the middle of a FETCH leaves the connection ready for the next statement") {
    TestDatabase db;
    Connection& conn = db.sql();
    conn.exec("BEGIN");
    Cursor cursor(conn, "halfway", 10);
    cursor.open("SELECT g::text FROM generate_series(1, 100) g ORDER BY g");
    REQUIRE(cursor.next() != nullptr);
    REQUIRE(cursor.next() != nullptr);
    cursor.close();
    CHECK_MESSAGE(!cursor.is_open(), "the cursor should say it is closed");
    CHECK_MESSAGE(!declared(conn, "halfway"), "close() left the cursor on the server");
    CHECK_MESSAGE(scalar(conn, "SELECT 'still usable'") == "still usable", "the connection after close()");
    cursor.close();  // twice: nothing happens
    conn.exec("COMMIT");
}

TEST_CASE("a FETCH the server fails throws, and leaves no FETCH under way") {
    TestDatabase db;
    Connection& conn = db.sql();
    conn.exec("BEGIN");
    Cursor cursor(conn, "failing", 2);
    // Computed as each row is fetched: the second FETCH fails at its first row (g = 3).
    cursor.open("SELECT (10 / (3 - g))::text FROM generate_series(1, 5) g");
    CHECK(cursor.next() != nullptr);
    CHECK(cursor.next() != nullptr);
    CHECK_THROWS_AS(cursor.next(), sluice::engine::PgError);
    CHECK_MESSAGE(!cursor.is_open(), "the cursor went with the aborted transaction, yet says it is open");
    CHECK_NOTHROW(cursor.close());
    conn.exec("ROLLBACK");
    CHECK_MESSAGE(scalar(conn, "SELECT 'still usable'") == "still usable", "the connection after the error");
    conn.exec("BEGIN");
    cursor.open("SELECT g::text FROM generate_series(1, 3) g ORDER BY g");
    CHECK_MESSAGE(drain(cursor) == numbers(1, 3), "the cursor opened again in a new transaction");
    conn.exec("COMMIT");
}
