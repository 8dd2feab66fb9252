// Savepoint-per-range COPY with row isolation, and the staging path for rows already present.
#include "engine/copy_writer.h"

namespace sluice::engine {

namespace {

constexpr const char* kSavepoint = "SAVEPOINT sluice_range";
constexpr const char* kRelease = "RELEASE SAVEPOINT sluice_range";
constexpr const char* kRollback = "ROLLBACK TO SAVEPOINT sluice_range";
constexpr const char* kStage = "sluice_stage";
constexpr const char* kUniqueViolation = "23505";

std::string column_list(const std::vector<Column>& columns) {
    std::string out = "(";
    for (std::size_t i = 0; i < columns.size(); ++i) out += (i ? ", " : "") + quote_ident(columns[i].name);
    return out + ")";
}

}  // namespace

IsolatingCopy::IsolatingCopy(Connection& conn, CopyTarget target) : conn_(conn), target_(std::move(target)) {
    std::string table = qualified(target_.schema, target_.table);
    std::string cols = column_list(target_.columns);
    copy_sql_ = "COPY " + table + " " + cols + " FROM STDIN (FORMAT binary)";
    stage_copy_sql_ = "COPY " + quote_ident(kStage) + " " + cols + " FROM STDIN (FORMAT binary)";
    // Columns by name on both sides: the target's physical column order may differ from ours.
    merge_sql_ = "INSERT INTO " + table + " " + cols + " SELECT " + cols.substr(1, cols.size() - 2) + " FROM " +
                 quote_ident(kStage) +
                 " ON CONFLICT (" + quote_ident(target_.columns.at(0).name) + ") DO NOTHING";
}

void IsolatingCopy::start_staging() {
    // Temporary and emptied at every commit: it only ever holds the range being written.
    conn_.exec("CREATE TEMPORARY TABLE IF NOT EXISTS " + quote_ident(kStage) + " (LIKE " +
               qualified(target_.schema, target_.table) + ") ON COMMIT DELETE ROWS");
    staging_ = true;
}

void IsolatingCopy::write(const Rows& rows, WriteOutcome& out) {
    if (rows.count() > 0) write_range(rows, 0, rows.count(), out);
}

std::uint64_t IsolatingCopy::copy_range(const Rows& rows, std::size_t first, std::size_t last,
                                        std::uint64_t& present) {
    std::vector<std::string_view> tuples = rows.pieces(first, last);
    if (!staging_) return conn_.copy_binary(copy_sql_, tuples);
    std::uint64_t staged = conn_.copy_binary(stage_copy_sql_, tuples);
    Result merged = conn_.exec(merge_sql_);
    std::uint64_t inserted = std::strtoull(PQcmdTuples(merged.get()), nullptr, 10);
    conn_.exec("TRUNCATE " + quote_ident(kStage));
    present += staged - inserted;
    return inserted;
}

void IsolatingCopy::write_range(const Rows& rows, std::size_t first, std::size_t last, WriteOutcome& out) {
    conn_.exec(kSavepoint);
    ++savepoints_;
    try {
        out.written += copy_range(rows, first, last, out.present);
        conn_.exec(kRelease);
        return;
    } catch (const PgError& e) {
        if (e.action() != ErrorAction::reject_row) throw;
        conn_.exec(kRollback);
        conn_.exec(kRelease);
        if (e.sqlstate() == kUniqueViolation && !staging_) {
            start_staging();  // some keys are already there: from now on, merge instead of insert
            return write_range(rows, first, last, out);
        }
        if (last - first == 1) return reject(rows, first, e, out);
        // A COPY (into the target or the staging table) names the failing line; the merge
        // INSERT does not, and then we bisect.
        std::optional<std::size_t> line = e.copy_line();
        if (line && *line >= 1 && *line <= last - first) {
            // Rows before the reported line went in before the failure: write them again.
            std::size_t bad = first + *line - 1;
            if (bad > first) write_range(rows, first, bad, out);
            reject(rows, bad, e, out);
            if (bad + 1 < last) write_range(rows, bad + 1, last, out);
            return;
        }
        std::size_t mid = first + (last - first) / 2;  // no line to go by: bisect
        write_range(rows, first, mid, out);
        write_range(rows, mid, last, out);
    }
}

void IsolatingCopy::reject(const Rows& rows, std::size_t i, const PgError& e, WriteOutcome& out) {
    std::string storage;  // the tuple whole, when a value of it lies outside the rows' buffer
    std::string_view tuple = rows.tuple(i, storage);
    std::vector<Field> fields = decode_tuple(tuple);
    Reject& r = out.rejects.emplace_back();
    r.key = fields.size() > 0 ? std::string(fields[0].bytes) : "";
    r.group = fields.size() > 1 ? std::string(fields[1].bytes) : "";
    r.sqlstate = e.sqlstate();
    r.message = e.message() + (e.detail().empty() ? "" : " (" + e.detail() + ")");
    r.row_json = tuple_to_json(tuple, target_.columns);
    r.by_server = true;
}

}  // namespace sluice::engine
