// The verify command: reader and transform in the engine's pipeline, a compare stage in place of
// the writer, JSON compared by meaning, the reject file's ids, and the report an operator reads.
#include "stages/commands/verify.h"

#include <oneapi/tbb/enumerable_thread_specific.h>
#include <rapidjson/document.h>

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/budget.h"
#include "engine/copy_binary.h"
#include "engine/lane_set.h"
#include "engine/pg.h"
#include "engine/progress.h"
#include "engine/reject_table.h"
#include "engine/run_lock.h"
#include "engine/words.h"
#include "stages/chat_message/chat_reader.h"
#include "stages/chat_message/checkpoint.h"
#include "stages/chat_message/json_meaning.h"
#include "stages/chat_message/known_rejects.h"
#include "stages/chat_message/target.h"
#include "stages/commands/common.h"
#include "stages/openwebui.h"
#include "stages/shared/catalog.h"

namespace sluice::stages {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kListed = engine::Listed::kNamed;  // ids a report names per kind of problem
using engine::Listed;

// ---------------------------------------------------------------- the tally

std::string json_quoted(std::string_view id) {
    std::string out;
    engine::append_json_string(out, id);
    return out;
}

// What verify found. Written by the compare stage alone (serial), read after the pipeline.
struct Tally {
    std::uint64_t chats = 0, chats_with_messages = 0;
    std::uint64_t rows_expected = 0;  // rows the transform derives
    std::uint64_t unstorable = 0;     // messages (or whole chats) the transform rejects
    std::uint64_t present = 0;
    std::uint64_t rejected = 0;  // expected, not in the table, listed in the rejects table
    Listed missing, stale, unexpected_in_chats, unexpected_elsewhere, counts_differ, differing;
    std::uint64_t sampled = 0, timestamps_not_compared = 0;
    bool interrupted = false;

    bool agrees() const {
        return missing.count == 0 && stale.count == 0 && unexpected_in_chats.count == 0 &&
               unexpected_elsewhere.count == 0 && differing.count == 0;
    }
};

// ---------------------------------------------------------------- the compare stage

// A reader batch and what verify adds to it: the ids of its chats, in reader order.
struct VerifyBatch {
    engine::BatchKind kind = engine::BatchKind::data;
    std::uint64_t seq = 0;
    std::unique_ptr<ChatBatch> chats;
    std::vector<std::string> chat_ids;
};

std::string_view value(const PGresult* r, int row, int column) {
    return {PQgetvalue(r, row, column), static_cast<std::size_t>(PQgetlength(r, row, column))};
}

std::int64_t int8_of(std::string_view big_endian) {
    std::uint64_t v = 0;
    for (char c : big_endian)
        v = v << 8 | static_cast<unsigned char>(c);
    return static_cast<std::int64_t>(v);
}

// One column of a sampled row: the derived tuple field against the table's text output.
bool same_field(engine::ColumnKind kind, const engine::Field& expected, bool null, std::string_view actual) {
    if (expected.is_null || null) return expected.is_null == null;
    switch (kind) {
        case engine::ColumnKind::text:
            return expected.bytes == actual;
        case engine::ColumnKind::json:
            return expected.bytes == actual || same_json_meaning(expected.bytes, actual);
        case engine::ColumnKind::boolean:
            return actual == (expected.bytes == std::string_view("\1", 1) ? "t" : "f");
        case engine::ColumnKind::int8:
            return actual == std::to_string(int8_of(expected.bytes));
    }
    return false;
}

// The compare stage. Serial: the sample counts rows in reader order, and it owns the connection,
// which the caller has put in a REPEATABLE READ READ ONLY transaction: one snapshot, no writes.
class Comparer {
public:
    Comparer(engine::Connection& conn, const Target& target, std::int64_t now, KnownRejects& rejected,
             engine::InflightBudget& budget, engine::RunCounters& counters)
        : conn_(conn),
          schema_(target.schema),
          table_(target.qualified()),
          now_(now),
          rejected_(rejected),
          budget_(budget),
          counters_(counters) {
        for (const engine::Column& c : chat_message_columns())
            columns_ += (columns_.empty() ? "" : ", ") + engine::quote_ident(c.name);
    }

    void write(VerifyBatch& batch);  // the writer's place in the lane
    bool interrupted() const { return tally_.interrupted; }
    // Rows whose chat is not one the reader selects: one query, after the last batch.
    void find_rows_of_other_chats();
    const Tally& tally() const { return tally_; }

private:
    struct ChatCount {
        std::uint64_t expected = 0;  // rows and rejects the transform derives
        std::uint64_t stored = 0;    // of those, the ones the table should hold
        std::uint64_t present = 0;   // rows the table holds
    };
    void compare_sample(const ChatBatch& batch, const std::vector<std::size_t>& sample);
    void compare_row(const std::vector<engine::Field>& expected, const PGresult* actual, int row);

    engine::Connection& conn_;
    std::string schema_, table_, columns_;
    std::int64_t now_;
    KnownRejects& rejected_;
    engine::InflightBudget& budget_;
    engine::RunCounters& counters_;
    std::uint64_t row_index_ = 0;  // expected rows so far, in reader order: picks the sample
    Tally tally_;
};

void Comparer::write(VerifyBatch& batch) {
    if (batch.kind == engine::BatchKind::end) tally_.interrupted = batch.chats->interrupted;
    if (batch.kind != engine::BatchKind::data) return;
    const ChatBatch& chats = *batch.chats;
    // ix_chat_message_chat_id makes this an index lookup per chat.
    const std::string sql = "SELECT id, chat_id FROM " + table_ + " WHERE chat_id = ANY($1::text[]) ORDER BY id";
    engine::Result present = conn_.exec(sql, {engine::text_array(batch.chat_ids)});
    const int n = PQntuples(present.get());
    std::unordered_map<std::string_view, int> by_id;  // views into `present` and the batch, alive until return
    std::unordered_map<std::string_view, ChatCount> per_chat;
    std::vector<bool> claimed(static_cast<std::size_t>(n), false);
    for (int i = 0; i < n; ++i) {
        by_id.emplace(value(present.get(), i, 0), i);
        ++per_chat[value(present.get(), i, 1)].present;
    }
    // `storable`: the transform derives a row (else it rejects the message itself).
    auto account = [&](std::string_view id, std::string_view chat_id, bool storable) {
        ChatCount& chat = per_chat[chat_id];
        ++chat.expected;
        // The id stored for another chat is not this message's row (a duplicate id, SPEC §4).
        if (auto it = by_id.find(id); it != by_id.end() && value(present.get(), it->second, 1) == chat_id) {
            claimed[static_cast<std::size_t>(it->second)] = true;
            ++chat.stored;
            ++tally_.present;
            return true;
        }
        if (storable && rejected_.stale(id)) {
            ++chat.stored;
            tally_.stale.add(json_quoted(id));
        } else if (rejected_.contains(id)) {
            ++tally_.rejected;
        } else {
            ++chat.stored;
            tally_.missing.add(json_quoted(id));
        }
        return false;
    };
    std::vector<std::size_t> sample;
    for (std::size_t i = 0; i < chats.out.rows.count(); ++i) {
        std::vector<engine::Field> row = engine::decode_tuple(chats.out.rows.tuple(i));
        bool in_table = account(row[0].bytes, row[1].bytes, true);
        if (row_index_++ % kVerifySampleEvery == 0 && in_table) sample.push_back(i);
    }
    for (const engine::Reject& r : chats.out.rejects)
        account(r.key, r.group, false);
    tally_.rows_expected += chats.out.rows.count();
    tally_.unstorable += chats.out.rejects.size();
    for (int i = 0; i < n; ++i) {
        if (claimed[static_cast<std::size_t>(i)]) continue;
        tally_.unexpected_in_chats.add(json_quoted(value(present.get(), i, 0)) + " (chat " +
                                       json_quoted(value(present.get(), i, 1)) + ")");
    }
    for (const std::string& id : batch.chat_ids) {
        auto it = per_chat.find(id);
        if (it == per_chat.end()) continue;
        const ChatCount& c = it->second;
        if (c.expected > 0) ++tally_.chats_with_messages;
        if (c.stored != c.present) {
            tally_.counts_differ.add(json_quoted(id) + ": " + std::to_string(c.stored) + " expected, " +
                                     std::to_string(c.present) + " present");
        }
    }
    tally_.chats += chats.chats;
    compare_sample(chats, sample);
    counters_.rows_written += chats.out.rows.count();
    budget_.give_back(1, chats.source_bytes);  // this batch is done with: the reader may read on
}

void Comparer::compare_sample(const ChatBatch& chats, const std::vector<std::size_t>& sample) {
    if (sample.empty()) return;
    std::vector<std::vector<engine::Field>> expected;
    std::vector<std::string> ids;
    for (std::size_t i : sample) {
        expected.push_back(engine::decode_tuple(chats.out.rows.tuple(i)));
        ids.emplace_back(expected.back()[0].bytes);
    }
    engine::Result actual =
        conn_.exec("SELECT " + columns_ + " FROM " + table_ + " WHERE id = ANY($1::text[])", {engine::text_array(ids)});
    std::unordered_map<std::string_view, int> by_id;
    for (int r = 0; r < PQntuples(actual.get()); ++r)
        by_id.emplace(value(actual.get(), r, 0), r);
    for (const auto& row : expected) {
        auto it = by_id.find(row[0].bytes);
        if (it != by_id.end()) compare_row(row, actual.get(), it->second);  // found: same snapshot
    }
}

void Comparer::compare_row(const std::vector<engine::Field>& expected, const PGresult* actual, int row) {
    const std::vector<engine::Column>& columns = chat_message_columns();
    std::string differs;
    bool fell_back = false;
    for (std::size_t c = 0; c < columns.size(); ++c) {
        const int column = static_cast<int>(c);
        // A timestamp that fell back to `now` was the migrating run's now, not ours: not comparable.
        bool timestamp = columns[c].kind == engine::ColumnKind::int8 && !expected[c].is_null;
        if (timestamp && int8_of(expected[c].bytes) == now_) {
            fell_back = true;
            continue;
        }
        if (!same_field(columns[c].kind, expected[c], PQgetisnull(actual, row, column), value(actual, row, column)))
            differs += (differs.empty() ? "" : ", ") + columns[c].name;
    }
    ++tally_.sampled;
    if (fell_back) ++tally_.timestamps_not_compared;
    if (!differs.empty()) tally_.differing.add(json_quoted(expected[0].bytes) + " (" + differs + ")");
}

void Comparer::find_rows_of_other_chats() {
    engine::Result r = conn_.exec("SELECT m.id, m.chat_id, count(*) OVER () FROM " + table_ +
                                  " m WHERE NOT EXISTS (SELECT 1 FROM " + engine::qualified(schema_, openwebui::kChat) +
                                  " c WHERE c.id = m.chat_id AND " + openwebui::chat_is_selected("c.") +
                                  ")"
                                  " ORDER BY m.id LIMIT " +
                                  std::to_string(kListed));
    if (PQntuples(r.get()) == 0) return;
    tally_.unexpected_elsewhere.count = std::strtoull(PQgetvalue(r.get(), 0, 2), nullptr, 10);
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        tally_.unexpected_elsewhere.first.push_back(json_quoted(value(r.get(), i, 0)) + " (chat " +
                                                    json_quoted(value(r.get(), i, 1)) + ")");
    }
}

// ---------------------------------------------------------------- the command

// chat_message, or before publish sluice's build table; throws one line when neither is there.
Target verified_table(engine::Connection& conn, const std::string& schema) {
    if (!relation_exists(conn, schema, openwebui::kChat)) {
        throw std::runtime_error("there is no table " + engine::qualified(schema, openwebui::kChat) +
                                 ": is this Open WebUI's database, and is the schema right"
                                 " (--schema, DATABASE_SCHEMA)?");
    }
    if (relation_exists(conn, schema, kChatMessage)) return {schema, kChatMessage};
    if (relation_exists(conn, schema, kBuildTable)) return {schema, kBuildTable};
    throw std::runtime_error("there is no table " + engine::qualified(schema, kChatMessage) +
                             ": nothing migrated yet: run sluice migrate");
}

// Whether a valid index leads with chat_id: without one, each batch's lookup scans the table.
bool has_chat_id_index(engine::Connection& conn, const Target& target) {
    engine::Result r = conn.exec(
        "SELECT EXISTS (SELECT 1 FROM pg_index x JOIN pg_attribute a ON a.attrelid = x.indrelid"
        " AND a.attnum = x.indkey[0] WHERE x.indrelid = to_regclass($1) AND a.attname = 'chat_id' AND x.indisvalid)",
        {target.qualified()});
    return PQgetvalue(r.get(), 0, 0)[0] == 't';
}

// The reader's batches, each with room for the ids of its chats, which the compare stage looks up
// (the transform notes them before it frees the chats' text). Serial: the lane's reader thread
// alone calls next().
class VerifyReader {
public:
    explicit VerifyReader(std::unique_ptr<ChatReader> chats) : chats_(std::move(chats)) {}
    std::unique_ptr<VerifyBatch> next() {
        auto batch = std::make_unique<VerifyBatch>();
        batch->chats = chats_->next();
        batch->kind = batch->chats->kind;
        batch->seq = batch->chats->seq;
        return batch;
    }
    bool validate_utf8() const { return chats_->validate_utf8(); }

private:
    std::unique_ptr<ChatReader> chats_;
};

// Reads, derives and compares every selected chat, through one lane of the backfill's kind with
// the compare stage in the writer's place; returns what it found.
Tally compare_all(const config::RunConfig& cfg, engine::Connection& conn, const Target& target, KnownRejects& rejected,
                  const std::atomic<bool>& stop) {
    const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));  // once per run, as migrate's
    // The reader reads in this connection's snapshot: every lookup sees exactly the chats it reads.
    engine::Result snapshot = conn.exec("SELECT pg_export_snapshot()");
    RangeQueue whole(plan_ranges<ChatRange>(conn, cfg.schema, 1));  // one range, its chats counted for the display
    engine::LaneSet<VerifyReader, Comparer> lane({cfg.db_url, 1, cfg.parse_threads, cfg.max_inflight_batches,
                                                  cfg.max_inflight_bytes, std::nullopt, 0,
                                                  std::string(PQgetvalue(snapshot.get(), 0, 0))});
    lane.build([&](const engine::LaneSeat& seat) {
        auto reader = std::make_unique<ChatReader>(
            ReaderSettings{cfg.db_url, cfg.schema, cfg.fetch_rows, cfg.batch_rows, cfg.batch_bytes, seat.snapshot},
            whole, lane.budget(), stop);
        return std::make_pair(std::make_unique<VerifyReader>(std::move(reader)),
                              std::make_unique<Comparer>(conn, target, now, rejected, lane.budget(), lane.counters()));
    });
    tbb::enumerable_thread_specific<ChatTransform> transforms(now, lane.reader(0).validate_utf8());
    auto transform = [&](VerifyBatch& batch) {
        for (const engine::Result& row : batch.chats->source)
            batch.chat_ids.emplace_back(value(row.get(), 0, 0));
        transform_batch(*batch.chats, transforms.local());
        return engine::Taken{batch.chats->chats, batch.chats->source_bytes};
    };
    lane.run(transform, progress_style(cfg.progress), whole.chats_left(), {"chats", "messages"});
    Comparer& comparer = *lane.writers().front();
    if (!comparer.tally().interrupted) comparer.find_rows_of_other_chats();
    return comparer.tally();
}

void print_listed(std::ostream& out, const Listed& listed) {
    for (const std::string& what : listed.first)
        out << "               " << what << "\n";
    if (listed.count > listed.first.size())
        out << "               ... and " << listed.count - listed.first.size() << " more\n";
}

void print_report(const Tally& t, const KnownRejects& rejects, std::ostream& out) {
    out << "  chats        " << t.chats << " selected, " << t.chats_with_messages << " with messages\n";
    out << "  messages     " << t.rows_expected + t.unstorable << " expected (" << t.unstorable
        << " that cannot be stored): " << t.present << " present, " << t.rejected << " rejected, " << t.missing.count
        << " missing\n";
    print_listed(out, t.missing);
    if (t.stale.count > 0) {
        out << "  stale        " << t.stale.count << " rejected messages now derive as storable rows (their chats "
            << "changed): sluice migrate --resync adds them\n";
        print_listed(out, t.stale);
    }
    out << "  unexpected   " << t.unexpected_in_chats.count << " in the selected chats, "
        << t.unexpected_elsewhere.count << " in other chats\n";
    print_listed(out, t.unexpected_in_chats);
    print_listed(out, t.unexpected_elsewhere);
    out << "  per chat     " << t.counts_differ.count << " chats whose message count differs\n";
    print_listed(out, t.counts_differ);
    out << "  sample       " << t.sampled << " rows compared (the first and every " << kVerifySampleEvery
        << "th expected row): " << t.differing.count << " differ\n"
        << "               on all 17 columns: text exactly, JSON by meaning; created_at and updated_at only\n"
        << "               where the source timestamp was valid (" << t.timestamps_not_compared
        << " sampled rows fell back to the run's time)\n";
    print_listed(out, t.differing);
    if (rejects.found())
        out << "  rejects      " << rejects.size() << " known, from " << rejects.source() << "\n";
    else
        out << "  rejects      " << rejects.source() << "\n";
}

// A migrate holds the run's lock: its table is half-built (LockHeldError, exit status 75).
void refuse_while_migrating(engine::Connection& conn, const std::string& schema) {
    refuse_verify_while_migrating(conn, schema, [&]() -> std::string {
        if (!checkpoint_readable(conn, schema)) return {};
        const std::optional<Checkpoint> cp = load_checkpoint(conn, schema);
        if (!cp) return {};
        return "; its backfill is at " + std::to_string(cp->ranges_complete) + " of " + std::to_string(cp->ranges) +
               " ranges, " + std::to_string(cp->messages) + " messages written";
    });
}

VerifyFigures figures_of(const Tally& t, const KnownRejects& rejects, const Target& target) {
    VerifyFigures f;
    f.table = target.table;
    f.chats = t.chats;
    f.chats_with_messages = t.chats_with_messages;
    f.expected = t.rows_expected + t.unstorable;
    f.unstorable = t.unstorable;
    f.present = t.present;
    f.rejected = t.rejected;
    f.missing = t.missing.count;
    f.stale = t.stale.count;
    f.unexpected_in_chats = t.unexpected_in_chats.count;
    f.unexpected_elsewhere = t.unexpected_elsewhere.count;
    f.counts_differ = t.counts_differ.count;
    f.sampled = t.sampled;
    f.differing = t.differing.count;
    f.rejects_from = rejects.source();
    f.known_rejects = rejects.size();
    return f;
}

// What to do about rows missing: resume the backfill, or give verify the rejects it could not read.
void print_hints(const Tally& t, const KnownRejects& rejects, const std::optional<Checkpoint>& checkpoint) {
    if (t.missing.count == 0) return;
    if (checkpoint && !checkpoint->complete)
        std::cout << "  hint         sluice's backfill has not finished: run sluice migrate to resume it\n";
    if (!rejects.found())
        std::cout << "  hint         " << t.missing.count << " missing messages may be rejects verify cannot see: "
                  << "pass the rejects' export (sluice cleanup writes one) with --rejects-from FILE\n";
}

}  // namespace

int verify(const config::RunConfig& cfg, const std::atomic<bool>& stop, RunSummary& summary) {
    auto started = Clock::now();
    engine::Connection conn(cfg.db_url, "verify");
    std::cout << "sluice verify: schema " << engine::quote_ident(cfg.schema) << "\n";
    refuse_while_migrating(conn, cfg.schema);
    const Target target = verified_table(conn, cfg.schema);
    if (target.build()) {
        std::cout << "  note         chat_message is not published yet: verifying sluice's build table "
                  << target.qualified() << "\n";
    }
    // One snapshot for every lookup, exported to the reader.
    conn.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (!has_chat_id_index(conn, target)) {
        std::cout << "  note         chat_message has no index on chat_id yet (the indexes phase builds it): "
                     "each batch scans the table\n";
    }
    KnownRejects rejects(conn, reject_table(cfg.schema), cfg.rejects_from);
    if (!cfg.rejects_from.empty())
        std::cout << "  note         the known rejects come from " << rejects.source() << "\n";
    Tally t = compare_all(cfg, conn, target, rejects, stop);
    print_report(t, rejects, std::cout);
    std::optional<Checkpoint> checkpoint;
    if (checkpoint_readable(conn, cfg.schema)) checkpoint = load_checkpoint(conn, cfg.schema);
    conn.exec("COMMIT");
    print_hints(t, rejects, checkpoint);
    summary.verify = figures_of(t, rejects, target);
    std::cout << "  peak memory  " << engine::human_bytes(engine::peak_rss_bytes()) << "\n";
    std::string took = engine::human_duration(std::chrono::duration<double>(Clock::now() - started).count());
    if (t.interrupted || stop.load()) {
        summary.verdict = "interrupted after " + took + "; the counts cover the chats read so far";
        std::cout << "sluice verify: " << summary.verdict << "\n";
        return kExitInterrupted;
    }
    if (t.agrees()) {
        summary.verdict = target.table + " agrees with chat";
        std::cout << "sluice verify: " << summary.verdict << " (" << took << ")\n";
        return 0;
    }
    summary.verdict = target.table + " does not agree with chat: " + std::to_string(t.missing.count) + " missing, " +
                      std::to_string(t.stale.count) + " stale rejects, " +
                      std::to_string(t.unexpected_in_chats.count + t.unexpected_elsewhere.count) + " unexpected, " +
                      std::to_string(t.differing.count) + " differing";
    std::cout << "sluice verify: " << summary.verdict << " (" << took << ")\n";
    return config::kExitDisagrees;
}

}  // namespace sluice::stages
