// libpq calls with their errors turned into PgError, and the SQLSTATE classification.
#include "engine/pg.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "engine/copy_binary.h"

namespace sluice::engine {

namespace {

std::atomic<bool> g_established{false};

std::string field(const PGresult* r, int code) {
    const char* v = r ? PQresultErrorField(r, code) : nullptr;
    return v ? v : "";
}

std::string first_line(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    auto nl = s.find('\n');
    return nl == std::string::npos ? s : s.substr(0, nl);
}

}  // namespace

ErrorAction classify(std::string_view sqlstate) {
    if (sqlstate.size() != 5) return ErrorAction::stop;
    std::string_view cls = sqlstate.substr(0, 2);
    // 54000: a value too large for a btree entry (a huge key); it is the row's fault as much as a 22 is.
    if (cls == "22" || cls == "23" || sqlstate == "54000") return ErrorAction::reject_row;
    if (sqlstate == "40001" || sqlstate == "40P01") return ErrorAction::retry_batch;
    if (cls == "08" || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03") return ErrorAction::reconnect;
    return ErrorAction::stop;
}

PgError::PgError(const std::string& message, std::string sqlstate, std::string detail, std::string context,
                 std::string connection)
    : std::runtime_error(connection.empty() ? message : connection + ": " + message),
      message_(message), sqlstate_(std::move(sqlstate)), detail_(std::move(detail)),
      context_(std::move(context)), connection_(std::move(connection)) {}

std::optional<std::size_t> PgError::copy_line() const {
    // "COPY some_table, line 17, column some_column: ..." (the line counts tuples in binary COPY too)
    auto at = context_.find(", line ");
    if (context_.compare(0, 5, "COPY ") != 0 || at == std::string::npos) return std::nullopt;
    char* end = nullptr;
    unsigned long long line = std::strtoull(context_.c_str() + at + 7, &end, 10);
    if (end == context_.c_str() + at + 7 || line == 0) return std::nullopt;
    return static_cast<std::size_t>(line);
}

std::string quote_ident(std::string_view name) {
    std::string out = "\"";
    for (char c : name) {
        if (c == '"') out.push_back('"');
        out.push_back(c);
    }
    out.push_back('"');
    return out;
}

std::string qualified(std::string_view schema, std::string_view name) {
    return quote_ident(schema) + "." + quote_ident(name);
}

Connection::Connection(const std::string& conninfo, std::string label) : label_(std::move(label)) {
    // The label becomes the application_name (unless the operator set one), so pg_stat_activity
    // shows which of sluice's connections is which.
    std::string app = "sluice " + label_;
    const char* keys[] = {"dbname", "fallback_application_name", nullptr};
    const char* values[] = {conninfo.c_str(), app.c_str(), nullptr};
    conn_ = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
    if (PQstatus(conn_) != CONNECTION_OK) {
        std::string why = first_line(PQerrorMessage(conn_));
        PQfinish(conn_);
        conn_ = nullptr;
        // libpq says e.g. 'connection to server at "h" (::1), port 5432 failed: FATAL: password
        // authentication failed for user "u"': specific, and never the password itself.
        // 'role "u" does not exist' is the user's fault (28000), 'database "d" does not exist' the name's.
        auto says = [&](const char* text) { return why.find(text) != std::string::npos; };
        std::string state = says("password authentication failed") ? "28P01"
                          : says("role \"") && says("\" does not exist") ? "28000"
                          : says("database \"") && says("\" does not exist") ? "3D000"
                          : "08001";
        throw PgError("cannot connect: " + why, state, {}, {}, label_);
    }
    g_established = true;
    // Our tuples are UTF-8; NOTICEs ("already exists, skipping") are not for the operator.
    exec("SET client_encoding = 'UTF8'");
    exec("SET client_min_messages = warning");
}

bool Connection::any_established() { return g_established.load(); }

Connection::~Connection() {
    if (conn_) PQfinish(conn_);
}

PgError Connection::error(const std::string& what, const PGresult* r) const {
    std::string state = field(r, PG_DIAG_SQLSTATE);
    std::string message = field(r, PG_DIAG_MESSAGE_PRIMARY);
    if (message.empty()) message = first_line(PQerrorMessage(conn_));
    if (state.empty()) state = PQstatus(conn_) == CONNECTION_BAD ? "08006" : "XX000";
    return PgError(what + ": " + message, state, field(r, PG_DIAG_MESSAGE_DETAIL), field(r, PG_DIAG_CONTEXT), label_);
}

Result Connection::exec(const std::string& sql) {
    Result r(PQexec(conn_, sql.c_str()));
    ExecStatusType s = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) throw error(first_line(sql), r.get());
    return r;
}

Result Connection::exec(const std::string& sql, const std::vector<std::optional<std::string>>& params) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    Result r(PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                          nullptr, nullptr, 0));
    ExecStatusType s = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) throw error(first_line(sql), r.get());
    return r;
}

std::uint64_t Connection::copy_binary(const std::string& copy_sql, std::string_view tuples) {
    Result start(PQexec(conn_, copy_sql.c_str()));
    if (!start || PQresultStatus(start.get()) != PGRES_COPY_IN) throw error("COPY", start.get());
    std::string_view header = copy_binary_header(), trailer = copy_binary_trailer();
    bool sent = PQputCopyData(conn_, header.data(), static_cast<int>(header.size())) == 1;
    // libpq copies each call into its output buffer, which grows to fit: pieces of 256 KiB keep
    // that buffer small and the copy in cache.
    constexpr std::size_t kPiece = std::size_t{256} << 10;
    for (std::size_t at = 0; sent && at < tuples.size(); at += kPiece) {
        std::size_t n = std::min(kPiece, tuples.size() - at);
        sent = PQputCopyData(conn_, tuples.data() + at, static_cast<int>(n)) == 1;
    }
    sent = sent && PQputCopyData(conn_, trailer.data(), static_cast<int>(trailer.size())) == 1;
    if (PQputCopyEnd(conn_, sent ? nullptr : "sluice could not send the rows") != 1) throw error("COPY end");
    Result done(PQgetResult(conn_));
    while (Result extra{PQgetResult(conn_)}) {}  // drain: libpq ends every command with a null result
    if (!done || PQresultStatus(done.get()) != PGRES_COMMAND_OK) throw error("COPY", done.get());
    return std::strtoull(PQcmdTuples(done.get()), nullptr, 10);
}

void Connection::send_single_row_query(const std::string& sql) {
    if (PQsendQuery(conn_, sql.c_str()) != 1) throw error(first_line(sql));
    if (PQsetSingleRowMode(conn_) != 1) throw error("single-row mode");
}

Result Connection::next_row() {
    Result r(PQgetResult(conn_));
    if (!r) throw error("fetch: the query ended without a result");
    switch (PQresultStatus(r.get())) {
        case PGRES_SINGLE_TUPLE: return r;
        case PGRES_TUPLES_OK:  // the zero-row result that ends a single-row-mode query
            while (Result extra{PQgetResult(conn_)}) {}
            return nullptr;
        default: {
            PgError e = error("fetch", r.get());
            while (Result extra{PQgetResult(conn_)}) {}
            throw e;
        }
    }
}

}  // namespace sluice::engine
