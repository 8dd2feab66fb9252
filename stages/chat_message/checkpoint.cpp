// The checkpoint rows: created, read and written with bound parameters, one row per range.
#include "stages/chat_message/checkpoint.h"

#include <cstdlib>
#include <functional>
#include <stdexcept>

#include "engine/run_fence.h"
#include "stages/openwebui.h"
#include "stages/shared/app_owner.h"

namespace sluice::stages {

namespace {

constexpr const char* kTable = "sluice_checkpoint";
constexpr const char* kJob = "openwebui_chat_message";

std::string skipped_array(const std::array<std::uint64_t, kSkipRules>& skipped) {
    std::string out = "{";
    for (std::size_t i = 0; i < skipped.size(); ++i)
        out += (i ? "," : "") + std::to_string(skipped[i]);
    return out + "}";
}

std::uint64_t number(const PGresult* r, int row, int col) {
    return std::strtoull(PQgetvalue(r, row, col), nullptr, 10);
}

std::optional<std::string> text_or_null(const PGresult* r, int row, int col) {
    if (PQgetisnull(r, row, col)) return std::nullopt;
    return std::string(PQgetvalue(r, row, col));
}

bool table_exists(engine::Connection& conn, const std::string& schema) {
    engine::Result r = conn.exec("SELECT to_regclass($1) IS NOT NULL", {engine::qualified(schema, kTable)});
    return PQgetvalue(r.get(), 0, 0)[0] == 't';
}

bool has_column(engine::Connection& conn, const std::string& schema, const char* column) {
    engine::Result r = conn.exec(
        "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1)"
        " AND attname = $2 AND NOT attisdropped)",
        {engine::qualified(schema, kTable), std::string(column)});
    return PQgetvalue(r.get(), 0, 0)[0] == 't';
}

// An earlier layout held one row per job, keyed on job alone: that row becomes range 0, which
// covers every chat (no bounds). A layout without target_oid leaves it NULL: bound to no table.
void upgrade_layout(engine::Connection& conn, const std::string& schema) {
    const std::string table = engine::qualified(schema, kTable);
    engine::in_transaction(conn, [&] {
        conn.exec(
            "ALTER TABLE " + table +
            " ADD COLUMN IF NOT EXISTS target text NOT NULL DEFAULT 'chat_message',"
            " ADD COLUMN IF NOT EXISTS range_no integer NOT NULL DEFAULT 0,"
            " ADD COLUMN IF NOT EXISTS lower_id text, ADD COLUMN IF NOT EXISTS upper_id text,"
            " ADD COLUMN IF NOT EXISTS planned_chats bigint NOT NULL DEFAULT 0,"
            " ADD COLUMN IF NOT EXISTS target_oid oid, ADD COLUMN IF NOT EXISTS removed bigint NOT NULL DEFAULT 0");
        engine::Result key = conn.exec(
            "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass($1)"
            " AND contype = 'p' AND cardinality(conkey) = 1",
            {table});
        if (PQntuples(key.get()) == 1) {
            conn.exec("ALTER TABLE " + table + " DROP CONSTRAINT " + engine::quote_ident(PQgetvalue(key.get(), 0, 0)) +
                      ", ADD PRIMARY KEY (job, range_no)");
        }
    });
}

// The collation of chat.id, as `COLLATE x` takes it: the plan's bounds order chat ids as the
// reader's `id > $1` compares them, in chat.id's own collation.
std::string chat_id_collation(engine::Connection& conn, const std::string& schema) {
    engine::Result r = conn.exec(
        "SELECT format('%I.%I', n.nspname, c.collname) FROM pg_attribute a"
        " JOIN pg_collation c ON c.oid = a.attcollation JOIN pg_namespace n ON n.oid = c.collnamespace"
        " WHERE a.attrelid = to_regclass($1) AND a.attname = 'id'",
        {engine::qualified(schema, openwebui::kChat)});
    return PQntuples(r.get()) == 1 ? PQgetvalue(r.get(), 0, 0) : "pg_catalog.\"default\"";
}

// SQL: the chat id `chat_id` (an expression) lies in the range of checkpoint row `c` (an alias),
// (lower, upper], compared in chat.id's collation, as the plan's bounds were drawn and as publish
// counts the ranges' rows.
std::string in_range(engine::Connection& conn, const std::string& schema, const std::string& chat_id,
                     const std::string& c) {
    const std::string id = chat_id + " COLLATE " + chat_id_collation(conn, schema);
    return "(" + c + ".lower_id IS NULL OR " + id + " > " + c + ".lower_id) AND (" + c + ".upper_id IS NULL OR " + id +
           " <= " + c + ".upper_id)";
}

}  // namespace

void BackfillTally::add(const BackfillTally& other) {
    chats += other.chats;
    messages += other.messages;
    present += other.present;
    rejected += other.rejected;
    for (std::size_t i = 0; i < kSkipRules; ++i)
        skipped[i] += other.skipped[i];
    bytes += other.bytes;
    removed += other.removed;
}

void create_checkpoint_table(engine::Connection& conn, const std::string& schema) {
    if (table_exists(conn, schema) &&
        (!has_column(conn, schema, "planned_chats") || !has_column(conn, schema, "removed")))
        upgrade_layout(conn, schema);
    engine::in_transaction(conn, [&] {
        create_as_app_owner(conn, schema);  // as the build table: a run resumed as the app's role may use them
        if (!table_exists(conn, schema)) {
            conn.exec(
                "CREATE TABLE IF NOT EXISTS " + engine::qualified(schema, kTable) +
                " (job text NOT NULL, range_no integer NOT NULL, lower_id text, upper_id text, last_chat_id text,"
                " chats bigint NOT NULL, messages bigint NOT NULL, present bigint NOT NULL, rejected bigint NOT NULL,"
                " skipped bigint[] NOT NULL, bytes bigint NOT NULL, complete boolean NOT NULL, target text NOT NULL,"
                " planned_chats bigint NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL DEFAULT now(),"
                " target_oid oid, removed bigint NOT NULL DEFAULT 0, PRIMARY KEY (job, range_no))");
        }
        reject_table(schema).create(conn);
    });
}

engine::RejectTable reject_table(const std::string& schema) {
    return engine::RejectTable(schema, "sluice_reject", "id", "chat_id");
}

std::string fence_key() {
    return kJob;
}

void reset_backfill(engine::Connection& conn, const std::string& schema) {
    create_checkpoint_table(conn, schema);
    engine::in_transaction(conn, [&] {
        conn.exec("DELETE FROM " + engine::qualified(schema, kTable) + " WHERE job = $1", {std::string(kJob)});
        reject_table(schema).clear(conn);
        engine::hold_fence(conn);
    });
}

void save_plan(engine::Connection& conn, const std::string& schema, const std::string& target,
               const std::vector<ChatRange>& ranges) {
    engine::in_transaction(conn, [&] {
        conn.exec("DELETE FROM " + engine::qualified(schema, kTable) + " WHERE job = $1", {std::string(kJob)});
        for (const ChatRange& r : ranges) {
            conn.exec("INSERT INTO " + engine::qualified(schema, kTable) +
                          " (job, range_no, lower_id, upper_id, last_chat_id, chats, messages, present, rejected,"
                          " skipped, bytes, complete, target, planned_chats, target_oid)"
                          " VALUES ($1, $2, $3, $4, NULL, 0, 0, 0, 0, $5, 0, false, $6, $7, to_regclass($8)::oid)",
                      {std::string(kJob), std::to_string(r.no), r.lower, r.upper, skipped_array({}), target,
                       std::to_string(r.planned_chats), engine::qualified(schema, target)});
        }
        engine::hold_fence(conn);
    });
}

std::vector<ChatRange> load_ranges(engine::Connection& conn, const std::string& schema) {
    if (!table_exists(conn, schema)) return {};
    // An earlier layout has neither ranges nor (the oldest) a target: its one row is the whole table.
    const bool ranged = has_column(conn, schema, "planned_chats");
    const bool counts_removed = has_column(conn, schema, "removed");
    engine::Result r =
        conn.exec(std::string("SELECT ") + (ranged ? "range_no, lower_id, upper_id" : "0, NULL, NULL") +
                      ", last_chat_id, chats, messages, present, rejected, skipped, bytes, complete, " +
                      (ranged ? "planned_chats" : "0") + (counts_removed ? ", removed" : ", 0") + " FROM " +
                      engine::qualified(schema, kTable) + " WHERE job = $1" + (ranged ? " ORDER BY range_no" : ""),
                  {std::string(kJob)});
    std::vector<ChatRange> ranges;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        ChatRange& c = ranges.emplace_back();
        c.no = static_cast<int>(number(r.get(), i, 0));
        c.lower = text_or_null(r.get(), i, 1);
        c.upper = text_or_null(r.get(), i, 2);
        c.last_chat_id = text_or_null(r.get(), i, 3);
        c.chats = number(r.get(), i, 4);
        c.messages = number(r.get(), i, 5);
        c.present = number(r.get(), i, 6);
        c.rejected = number(r.get(), i, 7);
        const char* p = PQgetvalue(r.get(), i, 8);  // "{1,2,...}"
        for (std::size_t k = 0; k < kSkipRules && *p; ++k) {
            while (*p && (*p < '0' || *p > '9'))
                ++p;
            c.skipped[k] = std::strtoull(p, const_cast<char**>(&p), 10);
        }
        c.bytes = number(r.get(), i, 9);
        c.complete = PQgetvalue(r.get(), i, 10)[0] == 't';
        c.planned_chats = number(r.get(), i, 11);
        c.removed = number(r.get(), i, 12);
    }
    return ranges;
}

namespace {

// One message of each chat counted anew, in the range that holds the chat; under the run's fence.
void recount(engine::Connection& conn, const std::string& schema, const std::vector<std::string>& chat_ids,
             const char* set) {
    engine::hold_fence(conn);
    const std::string sql = "UPDATE " + engine::qualified(schema, kTable) + " c SET " + set + " WHERE c.job = $1 AND " +
                            in_range(conn, schema, "$2::text", "c");
    for (const std::string& chat_id : chat_ids)
        conn.exec(sql, {std::string(kJob), chat_id});
}

}  // namespace

void count_moved_to_rejects(engine::Connection& conn, const std::string& schema,
                            const std::vector<std::string>& chat_ids) {
    // A range that wrote none counted the row as already present (a table completed in place).
    recount(conn, schema, chat_ids,
            "messages = messages - (messages > 0)::int, present = present - (messages = 0 AND present > 0)::int,"
            " rejected = rejected + 1");
}

void count_restored_from_rejects(engine::Connection& conn, const std::string& schema,
                                 const std::vector<std::string>& chat_ids) {
    recount(conn, schema, chat_ids, "messages = messages + 1, rejected = rejected - (rejected > 0)::int");
}

void retarget_checkpoint(engine::Connection& conn, const std::string& schema, const std::string& table) {
    if (!table_exists(conn, schema)) return;
    engine::hold_fence(conn);
    conn.exec("UPDATE " + engine::qualified(schema, kTable) + " SET target = $2 WHERE job = $1",
              {std::string(kJob), table});
}

std::uint64_t delete_counted(engine::Connection& conn, const std::string& schema, const std::string& table,
                             const std::string& condition) {
    const std::string target = engine::qualified(schema, table);
    const std::string gone = "DELETE FROM " + target + " m WHERE " + condition + " RETURNING m.chat_id";
    if (!table_exists(conn, schema) || !has_column(conn, schema, "removed")) {
        engine::Result deleted = conn.exec(gone);
        return std::strtoull(PQcmdTuples(deleted.get()), nullptr, 10);
    }
    engine::hold_fence(conn);
    const std::string checkpoint = engine::qualified(schema, kTable);
    const std::string per_range = "SELECT c.range_no, count(*) AS n FROM gone g JOIN " + checkpoint +
                                  " c ON c.job = $1 AND " + in_range(conn, schema, "g.chat_id", "c") +
                                  " GROUP BY c.range_no";
    const std::string counted = "UPDATE " + checkpoint +
                                " c SET removed = c.removed + p.n FROM per_range p"
                                " WHERE c.job = $1 AND c.range_no = p.range_no AND c.target_oid = to_regclass($2)::oid";
    engine::Result n = conn.exec("WITH gone AS (" + gone + "), per_range AS (" + per_range + "), counted AS (" +
                                     counted + ") SELECT count(*) FROM gone",
                                 {std::string(kJob), target});
    return number(n.get(), 0, 0);
}

std::string RowShortfall::describe(std::size_t ranges) const {
    std::string what = "the table holds " + std::to_string(held) + " of the " + std::to_string(expected) +
                       " rows the checkpoint says were written";
    if (ranges == 1) return what;
    return what + " in range " + std::to_string(range_no) + " (chat ids" + (lower ? " after '" + *lower + "'" : "") +
           (upper ? " up to '" + *upper + "'" : "") + ")";
}

std::vector<RowShortfall> rows_missing(engine::Connection& conn, const std::string& schema, const std::string& table,
                                       std::size_t& ranges) {
    const std::string in = " COLLATE " + chat_id_collation(conn, schema);
    const std::string plan = "SELECT range_no, lower_id, upper_id, messages + present - removed AS expected FROM " +
                             engine::qualified(schema, kTable) + " WHERE job = $1";
    const std::string bounds = "SELECT coalesce(array_agg(upper_id" + in +
                               " ORDER BY range_no) FILTER (WHERE upper_id IS NOT NULL), '{}') AS uppers FROM plan";
    // Each row goes to the range whose bounds hold its chat_id, (lower, upper]: width_bucket() counts
    // the upper bounds at or below it (0 for none), one too many when it is a bound itself.
    const std::string range_of =
        "width_bucket(m.chat_id" + in + ", b.uppers) - (m.chat_id" + in + " = ANY (b.uppers))::int";
    const std::string held = "SELECT " + range_of + " AS range_no, count(*) AS n FROM " +
                             engine::qualified(schema, table) + " m CROSS JOIN bounds b GROUP BY 1";
    engine::Result r = conn.exec(
        "WITH plan AS (" + plan + "), bounds AS (" + bounds + "), held AS (" + held +
            ")"
            " SELECT p.range_no, p.lower_id, p.upper_id, p.expected, coalesce(h.n, 0), (SELECT count(*) FROM plan)"
            " FROM plan p LEFT JOIN held h USING (range_no) WHERE coalesce(h.n, 0) < p.expected ORDER BY 1",
        {std::string(kJob)});
    std::vector<RowShortfall> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        out.push_back({static_cast<int>(number(r.get(), i, 0)), text_or_null(r.get(), i, 1),
                       text_or_null(r.get(), i, 2), number(r.get(), i, 3), number(r.get(), i, 4)});
        ranges = number(r.get(), i, 5);
    }
    return out;
}

void read_again(engine::Connection& conn, const std::string& schema, const std::vector<RowShortfall>& ranges) {
    if (ranges.empty()) return;
    engine::hold_fence(conn);
    std::vector<std::string> numbers;
    for (const RowShortfall& r : ranges)
        numbers.push_back(std::to_string(r.range_no));
    const std::vector<std::optional<std::string>> params = {std::string(kJob), engine::text_array(numbers)};
    const std::string checkpoint = engine::qualified(schema, kTable);
    // Their rejects go too: reading the ranges again finds them again, and counts them.
    if (reject_table(schema).exists(conn)) {
        conn.exec("DELETE FROM " + reject_table(schema).qualified_name() + " r USING " + checkpoint +
                      " c WHERE c.job = $1 AND c.range_no = ANY ($2::int[]) AND " +
                      in_range(conn, schema, "r.chat_id", "c"),
                  params);
    }
    conn.exec("UPDATE " + checkpoint +
                  " SET last_chat_id = NULL, chats = 0, messages = 0, present = 0, rejected = 0,"
                  " skipped = array_fill(0::bigint, ARRAY[cardinality(skipped)]), bytes = 0, complete = false,"
                  " removed = 0, updated_at = now() WHERE job = $1 AND range_no = ANY ($2::int[])",
              params);
}

bool checkpoint_readable(engine::Connection& conn, const std::string& schema) {
    engine::Result r =
        conn.exec("SELECT has_table_privilege(to_regclass($1), 'SELECT')", {engine::qualified(schema, kTable)});
    return PQgetvalue(r.get(), 0, 0)[0] == 't';  // NULL (no table): false
}

std::optional<SavedPlan> load_saved_plan(engine::Connection& conn, const std::string& schema) {
    if (!table_exists(conn, schema)) return std::nullopt;
    const bool targeted = has_column(conn, schema, "target");
    // Bound: the table of its name now is the one its plan was made for.
    const bool bindable = targeted && has_column(conn, schema, "target_oid");
    engine::Result t = conn.exec(
        std::string("SELECT ") + (targeted ? "min(target)" : "'chat_message'") + ", " +
            (bindable ? "coalesce(bool_and(target_oid = to_regclass(format('%I.%I', $2::text, target))::oid), false)"
                      : "false") +
            " FROM " + engine::qualified(schema, kTable) + " WHERE job = $1",
        bindable ? std::vector<std::optional<std::string>>{std::string(kJob), schema}
                 : std::vector<std::optional<std::string>>{std::string(kJob)});
    std::vector<ChatRange> ranges = load_ranges(conn, schema);
    if (ranges.empty()) return std::nullopt;
    Checkpoint total = sum_of(ranges, PQgetvalue(t.get(), 0, 0), PQgetvalue(t.get(), 0, 1)[0] == 't');
    return SavedPlan{std::move(total), std::move(ranges)};
}

std::optional<Checkpoint> load_checkpoint(engine::Connection& conn, const std::string& schema) {
    std::optional<SavedPlan> saved = load_saved_plan(conn, schema);
    if (!saved) return std::nullopt;
    return saved->total;
}

Checkpoint sum_of(const std::vector<ChatRange>& ranges, const std::string& target, bool bound) {
    Checkpoint cp;
    cp.target = target;
    cp.bound = bound;
    cp.ranges = ranges.size();
    for (const ChatRange& r : ranges) {
        cp.add(r);
        cp.ranges_complete += r.complete ? 1 : 0;
    }
    cp.complete = cp.ranges_complete == cp.ranges;
    return cp;
}

void save_range(engine::Connection& conn, const std::string& schema, const std::string& target, const ChatRange& r) {
    engine::hold_fence(conn);
    // Only where the plan was made for the table these rows went into (by oid, as it is now).
    engine::Result done = conn.exec(
        "UPDATE " + engine::qualified(schema, kTable) +
            " SET last_chat_id = $3, chats = $4, messages = $5, present = $6, rejected = $7, skipped = $8, bytes = $9,"
            " complete = $10, target = $11, updated_at = now() WHERE job = $1 AND range_no = $2"
            " AND target_oid = to_regclass($12)::oid",
        {std::string(kJob), std::to_string(r.no), r.last_chat_id, std::to_string(r.chats), std::to_string(r.messages),
         std::to_string(r.present), std::to_string(r.rejected), skipped_array(r.skipped), std::to_string(r.bytes),
         std::string(r.complete ? "true" : "false"), target, engine::qualified(schema, target)});
    if (std::string(PQcmdTuples(done.get())) != "1") {
        throw std::runtime_error(
            "the checkpoint of range " + std::to_string(r.no) + " is gone from " + engine::qualified(schema, kTable) +
            ", or describes another table than " + engine::qualified(schema, target) +
            " (was sluice cleanup run, or the table dropped, meanwhile?); run sluice migrate again");
    }
}

}  // namespace sluice::stages
