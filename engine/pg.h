// The PostgreSQL connection: RAII for every libpq handle, errors that carry their SQLSTATE and
// context, binary COPY of a range of rows, and the one helper that quotes identifiers.
#pragma once

#include <libpq-fe.h>

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::engine {

struct ResultDeleter {
    void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// What the writer does about a failed statement, decided by SQLSTATE class alone (STYLE: one place).
enum class ErrorAction {
    reject_row,   // 22 data exception, 23 integrity violation, 54000 too large for an index entry:
                  // isolate the row, reject it, go on
    retry_batch,  // 40001 serialization failure, 40P01 deadlock: run the batch again
    reconnect,    // 08 connection exception (and 57P01..57P03 shutdown): reconnect, resume
    stop,         // anything else: the run must stop
};
ErrorAction classify(std::string_view sqlstate);
// sluice's own SQLSTATE-like code (class "SL", unknown to PostgreSQL, so classify() says stop) for
// connection settings that libpq refuses before reaching a server (sslmode=bogus, port=54x3, an
// unknown service): bad configuration, which main reports with exit status 2.
inline constexpr std::string_view kBadConnectionSettings = "SLCFG";

// A failed statement or connection. what() is one line a user can act on; no passwords in it.
class PgError : public std::runtime_error {
public:
    PgError(const std::string& message, std::string sqlstate, std::string detail = {}, std::string context = {},
            std::string connection = {});
    const std::string& sqlstate() const { return sqlstate_; }
    const std::string& detail() const { return detail_; }
    const std::string& context() const { return context_; }
    const std::string& message() const { return message_; }
    ErrorAction action() const { return classify(sqlstate_); }
    // The 1-based row of a failed COPY, from PostgreSQL's "COPY t, line N" context.
    std::optional<std::size_t> copy_line() const;

private:
    std::string message_, sqlstate_, detail_, context_;
};

// The error in a few words, for a retry line: the statement's leading keywords ("SELECT", "CREATE
// INDEX", "COPY") instead of its text, and the server's message without libpq's "FATAL:" prefix
// or line breaks ("COPY: terminating connection due to administrator command").
std::string brief(const PgError& e);

// "schema"."name" with embedded quotes doubled: every identifier that reaches SQL goes through here.
std::string quote_ident(std::string_view name);
std::string qualified(std::string_view schema, std::string_view name);
// A text[] literal, {"a","b"}, with quotes and backslashes escaped: a list bound as one parameter.
std::string text_array(const std::vector<std::string>& items);

class Connection;
// Runs `body` inside BEGIN ... COMMIT on `conn`; rolls back and rethrows when it throws.
void in_transaction(Connection& conn, const std::function<void()>& body);

// One libpq connection. Not thread-safe: one owner (a stage) uses it at a time.
class Connection {
public:
    // Connects or throws PgError with a message saying what failed (never the password).
    // `label` names the connection in errors ("reader", "writer", "index 3").
    Connection(const std::string& conninfo, std::string label);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    PGconn* raw() const { return conn_; }
    const std::string& label() const { return label_; }

    // Runs one statement; throws PgError unless it succeeded.
    Result exec(const std::string& sql);
    Result exec(const std::string& sql, const std::vector<std::optional<std::string>>& params);

    // COPY ... FROM STDIN (FORMAT binary) of the tuples the pieces make, in order; returns the
    // rows PostgreSQL took.
    std::uint64_t copy_binary(const std::string& copy_sql, const std::vector<std::string_view>& tuples);

    // Sends a query whose rows come back one PGresult each (single-row mode); see next_row().
    void send_single_row_query(const std::string& sql);
    // The next row of the query sent above, or nullptr when it has no more (then the query is done).
    Result next_row();

    PgError error(const std::string& what, const PGresult* result = nullptr) const;

    // Whether any connection of this process has been established: a server that was reached
    // once and is lost is worth waiting for; one never reached is a configuration problem.
    static bool any_established();

private:
    int configure_session();  // client encoding, messages, timeouts: once connected; returns the backend's pid

    PGconn* conn_ = nullptr;
    std::string label_;
};

}  // namespace sluice::engine
