// Savepoint-per-range COPY with row isolation, and the staging path for rows already present.
#include "engine/copy_writer.h"

#include "engine/utf8.h"

namespace sluice::engine {

namespace {

constexpr const char* kSavepoint = "SAVEPOINT sluice_range";
constexpr const char* kRelease = "RELEASE SAVEPOINT sluice_range";
constexpr const char* kRollback = "ROLLBACK TO SAVEPOINT sluice_range";
constexpr const char* kStage = "sluice_stage";
constexpr const char* kUniqueViolation = "23505";

std::string column_list(const std::vector<Column>& columns) {
    std::string out;
    for (std::size_t i = 0; i < columns.size(); ++i)
        out += (i ? ", " : "") + quote_ident(columns[i].name);
    return out;
}

std::uint64_t count_of(const Result& r) {
    return std::strtoull(PQcmdTuples(r.get()), nullptr, 10);
}

std::string value(const PGresult* r, int row, int column) {
    return {PQgetvalue(r, row, column), static_cast<std::size_t>(PQgetlength(r, row, column))};
}

}  // namespace

void WriteOutcome::add(WriteOutcome&& other) {
    written += other.written;
    updated += other.updated;
    present += other.present;
    removed += other.removed;
    for (Reject& r : other.rejects)
        rejects.push_back(std::move(r));
}

IsolatingCopy::IsolatingCopy(Connection& conn, CopyTarget target)
    : conn_(conn),
      target_(std::move(target)),
      key_(quote_ident(target_.columns.at(0).name)),
      group_(quote_ident(target_.columns.at(1).name)) {
    const std::string table = qualified(target_.schema, target_.table), stage = quote_ident(kStage);
    const std::string cols = column_list(target_.columns);
    copy_sql_ = "COPY " + table + " (" + cols + ") FROM STDIN (FORMAT binary)";
    stage_copy_sql_ = "COPY " + stage + " (" + cols + ") FROM STDIN (FORMAT binary)";
    // A key staged twice: the row of the group the target already holds it for stays (present, or
    // a collision for another group to settle), else the group that sorts first in byte order
    // (COLLATE "C": the same choice whatever the database's collation).
    first_sql_ = "WITH twice AS (SELECT " + key_ + " AS k FROM " + stage +
                 " GROUP BY 1 HAVING count(*) > 1),"
                 " first AS (SELECT w.k, coalesce((SELECT t." +
                 group_ + " FROM " + table + " t WHERE t." + key_ + " = w.k), (SELECT min(x." + group_ +
                 " COLLATE \"C\") FROM " + stage + " x WHERE x." + key_ + " = w.k)) AS g FROM twice w) DELETE FROM " +
                 stage + " s USING first f WHERE s." + key_ + " = f.k AND s." + group_ + " <> f.g RETURNING s." + key_ +
                 ", s." + group_ + ", f.g, row_to_json(s)";
    std::string set, stored, staged;
    for (auto c = target_.columns.begin() + 2; c != target_.columns.end(); ++c) {
        const std::string name = quote_ident(c->name), sep = set.empty() ? "" : ", ";
        set += sep + name + " = s." + name;
        // As text: json has no equality operator, and text is what was written.
        stored += sep + "t." + name + "::text";
        staged += sep + (c->kind == ColumnKind::int8 && target_.unknown_int8
                             ? "(CASE WHEN s." + name + " = " + std::to_string(*target_.unknown_int8) + " THEN t." +
                                   name + " ELSE s." + name + " END)::text"
                             : "s." + name + "::text");
    }
    update_sql_ = "UPDATE " + table + " t SET " + set + " FROM " + stage + " s WHERE t." + key_ + " = s." + key_ +
                  " AND t." + group_ + " = s." + group_ + " AND (" + stored + ") IS DISTINCT FROM (" + staged + ")";
    // Columns by name on both sides: the target's physical column order may differ from ours.
    merge_sql_ = "INSERT INTO " + table + " (" + cols + ") SELECT " + cols + " FROM " + stage + " ON CONFLICT (" +
                 key_ + ") DO NOTHING";
    // After the insert: a key that another writer committed meanwhile is seen too.
    holders_sql_ = "SELECT s." + key_ + ", s." + group_ + ", t." + group_ + ", row_to_json(s) FROM " + stage +
                   " s JOIN " + table + " t ON t." + key_ + " = s." + key_ + " WHERE t." + group_ +
                   " IS DISTINCT FROM s." + group_;
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

std::uint64_t IsolatingCopy::remove_others(const std::vector<std::string>& groups, const Rows& rows) {
    if (groups.empty()) return 0;
    begin_if_due();
    std::vector<std::string> keys, written_groups;
    for (std::size_t i = 0; i < rows.count(); ++i) {
        std::vector<Field> fields = decode_tuple(rows.head(i), 2);  // the key and group lie before any value outside
        keys.emplace_back(fields.at(0).bytes);
        written_groups.emplace_back(fields.at(1).bytes);
    }
    return count_of(conn_.exec("DELETE FROM " + qualified(target_.schema, target_.table) + " t WHERE t." + group_ +
                                   " = ANY ($1::text[]) AND NOT EXISTS (SELECT 1 FROM unnest($2::text[], $3::text[])"
                                   " AS d (k, g) WHERE d.k = t." +
                                   key_ + " AND d.g = t." + group_ + ")",
                               {text_array(groups), text_array(keys), text_array(written_groups)}));
}

// The savepoint goes to the server in one message with the COPY (a round trip less per range);
// the staging path's statements come after it.
void IsolatingCopy::copy_range(const Rows& rows, std::size_t first, std::size_t last, WriteOutcome& out) {
    std::vector<std::string_view> tuples = rows.pieces(first, last);
    const std::string opening = open_savepoint();
    if (!staging_) {
        out.written += conn_.copy_binary(opening + copy_sql_, tuples);
        return;
    }
    merge_staged(conn_.copy_binary(opening + stage_copy_sql_, tuples), out);
    conn_.exec("TRUNCATE " + quote_ident(kStage));
}

// The staged rows, in the order that keeps every count right: collisions within them out first,
// then updates (replace mode), the insert, and last the keys another group holds in the target.
void IsolatingCopy::merge_staged(std::uint64_t staged, WriteOutcome& out) {
    const std::uint64_t collided = collisions(first_sql_, out);
    const std::uint64_t updated = target_.replace ? count_of(conn_.exec(update_sql_)) : 0;
    const std::uint64_t inserted = count_of(conn_.exec(merge_sql_));
    const std::uint64_t held = collisions(holders_sql_, out);
    const std::uint64_t done = collided + updated + inserted + held;
    out.written += inserted;
    out.updated += updated;
    out.present += staged > done ? staged - done : 0;
}

std::uint64_t IsolatingCopy::collisions(const std::string& sql, WriteOutcome& out) {
    Result r = conn_.exec(sql);
    const std::string key = target_.columns[0].name, group = target_.columns[1].name;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        Reject& reject = out.rejects.emplace_back();
        reject.key = value(r.get(), i, 0);
        reject.group = value(r.get(), i, 1);
        reject.sqlstate = kUniqueViolation;
        std::string holder;
        append_json_string(holder, value(r.get(), i, 2));
        reject.message = "duplicate " + key + ": the row of " + group + " " + holder + " has this " + key;
        reject.row_json = value(r.get(), i, 3);
        reject.by_server = true;
    }
    return static_cast<std::uint64_t>(PQntuples(r.get()));
}

void IsolatingCopy::begin_if_due() {
    if (!begin_due_) return;
    conn_.exec("BEGIN");
    begin_due_ = false;
}

// The statements that open a range's savepoint, as the head of a simple query: the caller's
// BEGIN or the release of the last range's, if one is still due.
std::string IsolatingCopy::open_savepoint() {
    std::string sql = begin_due_ ? "BEGIN; " : release_due_ ? std::string(kRelease) + "; " : "";
    begin_due_ = release_due_ = false;
    ++savepoints_;
    return sql + kSavepoint + "; ";
}

void IsolatingCopy::write_range(const Rows& rows, std::size_t first, std::size_t last, WriteOutcome& out) {
    WriteOutcome range;
    try {
        copy_range(rows, first, last, range);
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
        return;
    }
    // Its rows are in: the savepoint is released with the next range's opening, or by the commit
    // (a release cannot fail where the COPY did not; it saves a round trip per range).
    release_due_ = true;
    out.add(std::move(range));
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
    // A key a text column cannot hold was never stored.
    if (!target_.replace || !storable_as_text(r.key) || !storable_as_text(r.group)) return;
    // The row as it is now cannot be stored: the one stored before for it is no longer true.
    out.removed += count_of(conn_.exec(
        "DELETE FROM " + qualified(target_.schema, target_.table) + " WHERE " + key_ + " = $1 AND " + group_ + " = $2",
        {r.key, r.group}));
}

}  // namespace sluice::engine
