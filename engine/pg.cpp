// libpq calls with their errors turned into PgError, and the SQLSTATE classification.
#include "engine/pg.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "engine/copy_binary.h"
#include "engine/log.h"
#include "engine/sessions.h"

namespace sluice::engine {

namespace {

std::atomic<bool> g_established{false};

std::string field(const PGresult* r, int code) {
    const char* v = r ? PQresultErrorField(r, code) : nullptr;
    return v ? v : "";
}

std::string first_line(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    auto nl = s.find('\n');
    return nl == std::string::npos ? s : s.substr(0, nl);
}

// libpq prints a server's NOTICE, INFO, LOG and WARNING raw on stderr; this receiver, on every
// connection, drops all but WARNING, and gives that one formatted line through the log (which
// keeps lines from other threads and the progress bar apart, and puts it in the log file).
void on_notice(void*, const PGresult* r) {
    if (field(r, PG_DIAG_SEVERITY_NONLOCALIZED) != "WARNING") return;
    log::warn("server warning: " + first_line(field(r, PG_DIAG_MESSAGE_PRIMARY)));
}

// libpq's connection failure as one line. It lists one attempt a line (per host and address),
// each maybe followed by a tab-indented hint or the server's DETAIL and HINT: the server's FATAL
// is kept if there is one, else the last attempt; "FATAL:  x" becomes "FATAL: x".
std::string connect_failure(const std::string& message) {
    std::string chosen;
    for (std::size_t start = 0; start < message.size();) {
        const std::size_t end = std::min(message.find('\n', start), message.size());
        const std::string line = message.substr(start, end - start);
        start = end + 1;
        if (line.empty() || line[0] == '\t' || line[0] == ' ' || line.rfind("DETAIL:", 0) == 0 ||
            line.rfind("HINT:", 0) == 0)
            continue;
        if (chosen.find("FATAL:") == std::string::npos) chosen = line;
    }
    for (std::size_t at; (at = chosen.find(":  ")) != std::string::npos;)
        chosen.erase(at + 1, 1);
    return chosen.empty() ? "libpq gave no reason" : chosen;
}

// A SQLSTATE for a failed connection, guessed from libpq's words (libpq gives none):
// settings libpq refuses before reaching a server are configuration (kBadConnectionSettings),
// the server's refusals are authentication (28P01, 28000) or a missing database (3D000), a server
// not reached is 08001, and anything else the server or the handshake refused is 08004.
std::string connect_sqlstate(const std::string& why) {
    const std::size_t failed = why.find(" failed: ");
    const std::string reason = failed == std::string::npos ? why : why.substr(failed + 9);
    auto says = [&](const char* text) { return why.find(text) != std::string::npos; };
    auto starts = [&](const char* text) { return reason.rfind(text, 0) == 0; };
    if (starts("invalid ") || starts("could not match ") || starts("could not parse network address") ||
        starts("definition of service") || says("service file") || starts("sslmode value"))
        return std::string(kBadConnectionSettings);
    if (says("password authentication failed") || says("no password supplied")) return "28P01";
    if ((says("role \"") && says("\" does not exist")) || says("no pg_hba.conf entry")) return "28000";
    if (says("database \"") && says("\" does not exist")) return "3D000";
    if (says("on socket") && says("No such file or directory")) return "08001";  // not a missing certificate
    for (const char* unreached : {"Connection refused", "could not translate host name", "timeout expired",
                                  "Network is unreachable", "No route to host", "Connection timed out"})
        if (says(unreached)) return "08001";
    return "08004";
}

}  // namespace

std::string brief(const PgError& e) {
    const std::string& full = e.message();
    const std::size_t colon = full.find(": ");
    std::string statement = colon == std::string::npos ? std::string() : full.substr(0, colon);
    std::string said = colon == std::string::npos ? full : full.substr(colon + 2);
    // The leading words in capitals are the statement's kind; identifiers and values follow.
    std::istringstream words(statement);
    std::string name;
    for (std::string word; words >> word && name.size() < 24;) {
        const bool keyword = std::all_of(word.begin(), word.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
        if (!keyword) break;
        name += (name.empty() ? "" : " ") + word;
    }
    for (const char* severity : {"FATAL:  ", "ERROR:  ", "FATAL: ", "ERROR: "})
        for (std::size_t at; (at = said.find(severity)) != std::string::npos;)
            said.erase(at, std::strlen(severity));
    std::replace(said.begin(), said.end(), '\n', ' ');
    while (!said.empty() && said.back() == ' ')
        said.pop_back();
    if (name.empty() && !statement.empty() && statement.size() <= 24) name = statement;  // a label, e.g. "COPY end"
    return name.empty() ? said : name + ": " + said;
}

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
      message_(message),
      sqlstate_(std::move(sqlstate)),
      detail_(std::move(detail)),
      context_(std::move(context)) {}

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

std::string text_array(const std::vector<std::string>& items) {
    std::string out = "{";
    for (const std::string& item : items) {
        out += out.size() > 1 ? ",\"" : "\"";
        for (char c : item) {
            if (c == '"' || c == '\\') out.push_back('\\');
            out.push_back(c);
        }
        out.push_back('"');
    }
    return out + "}";
}

Connection::Connection(const std::string& conninfo, std::string label) : label_(std::move(label)) {
    // The label becomes the application_name, over any the connection string sets (an operator
    // may copy the app's own): pg_stat_activity shows which of sluice's connections is which,
    // and a later run finds the backends a killed one left (engine/leftover_backends.h).
    std::string app = "sluice " + label_;
    const char* keys[] = {"dbname", "application_name", nullptr};
    const char* values[] = {conninfo.c_str(), app.c_str(), nullptr};
    // An empty conninfo leaves everything to libpq's environment (PGHOST, PGSERVICE, ~/.pgpass...).
    conn_ = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
    if (!conn_) throw PgError("cannot connect: out of memory", "08001", {}, {}, label_);
    if (PQstatus(conn_) != CONNECTION_OK) {
        // libpq says e.g. 'connection to server at "h" (::1), port 5432 failed: FATAL: password
        // authentication failed for user "u"': specific, and never the password itself.
        std::string why = connect_failure(PQerrorMessage(conn_));
        PQfinish(conn_);
        conn_ = nullptr;
        throw PgError("cannot connect: " + why, connect_sqlstate(why), {}, {}, label_);
    }
    // Set once connected: a WARNING sent during the handshake itself still takes libpq's default path.
    PQsetNoticeReceiver(conn_, on_notice, nullptr);
    g_established = true;
    // Our tuples are UTF-8; NOTICEs ("already exists, skipping") are not for the operator.
    int pid = 0;
    try {
        pid = configure_session();
    } catch (...) {
        PQfinish(conn_);  // no destructor runs for a constructor that throws
        throw;
    }
    sessions::add(conn_, label_, pid);
}

int Connection::configure_session() {
    // A managed server's role or database settings must not end sluice's work half way: an
    // index build may take an hour, the reader holds its snapshot open while the pipeline waits,
    // and a lock wait is reported while it lasts and ends on a stop request (engine/lock_watch.h,
    // engine/stop_signals.h) rather than after a fixed time. First, and in plain SETs, which
    // take microseconds; yet a new backend's first statement on a loaded machine can outlast a
    // 5 ms statement_timeout (seen in the phase stop test). It fails whole (57014; no stop request
    // can cancel it: the session is registered below), so it is simply sent again.
    // All in one round trip (a connection is a fixed cost of every run, and a run opens about ten),
    // ending with the pid as the backend says it: behind a pooler in session mode, PQbackendPID()
    // is a number of the pooler's, which pg_stat_activity and pg_locks never show.
    std::string setup =
        "SET statement_timeout = 0; SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0; ";
    if (PQserverVersion(conn_) >= 140000) setup += "SET idle_session_timeout = 0; ";
    setup += "SET client_encoding = 'UTF8'; SET client_min_messages = warning; SELECT pg_backend_pid()";
    for (int attempt = 1;; ++attempt) {
        try {
            Result pid = exec(setup);
            return std::atoi(PQgetvalue(pid.get(), 0, 0));
        } catch (const PgError& e) {
            if (e.sqlstate() != "57014" || attempt == 5) throw;
        }
    }
}

bool Connection::any_established() {
    return g_established.load();
}

Connection::~Connection() {
    if (!conn_) return;
    sessions::remove(conn_);
    PQfinish(conn_);
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
    for (const auto& p : params)
        values.push_back(p ? p->c_str() : nullptr);
    Result r(
        PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0));
    ExecStatusType s = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) throw error(first_line(sql), r.get());
    return r;
}

std::uint64_t Connection::copy_binary(const std::string& copy_sql, const std::vector<std::string_view>& tuples) {
    Result start(PQexec(conn_, copy_sql.c_str()));
    if (!start || PQresultStatus(start.get()) != PGRES_COPY_IN) throw error("COPY", start.get());
    std::string_view header = copy_binary_header(), trailer = copy_binary_trailer();
    bool sent = PQputCopyData(conn_, header.data(), static_cast<int>(header.size())) == 1;
    // libpq copies each call into its output buffer, which grows to fit: pieces of 256 KiB keep
    // that buffer small and the copy in cache.
    constexpr std::size_t kPiece = std::size_t{256} << 10;
    for (std::string_view part : tuples) {
        for (std::size_t at = 0; sent && at < part.size(); at += kPiece) {
            std::size_t n = std::min(kPiece, part.size() - at);
            sent = PQputCopyData(conn_, part.data() + at, static_cast<int>(n)) == 1;
        }
    }
    sent = sent && PQputCopyData(conn_, trailer.data(), static_cast<int>(trailer.size())) == 1;
    if (PQputCopyEnd(conn_, sent ? nullptr : "sluice could not send the rows") != 1) throw error("COPY end");
    Result done(PQgetResult(conn_));
    while (Result extra{PQgetResult(conn_)}) {
    }  // drain: libpq ends every command with a null result
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
        case PGRES_SINGLE_TUPLE:
            return r;
        case PGRES_TUPLES_OK:  // the zero-row result that ends a single-row-mode query
            while (Result extra{PQgetResult(conn_)}) {
            }
            return nullptr;
        default: {
            PgError e = error("fetch", r.get());
            while (Result extra{PQgetResult(conn_)}) {
            }
            throw e;
        }
    }
}

void in_transaction(Connection& conn, const std::function<void()>& body) {
    conn.exec("BEGIN");
    try {
        body();
        conn.exec("COMMIT");
    } catch (...) {
        if (PQtransactionStatus(conn.raw()) != PQTRANS_IDLE) PQclear(PQexec(conn.raw(), "ROLLBACK"));
        throw;
    }
}

}  // namespace sluice::engine
