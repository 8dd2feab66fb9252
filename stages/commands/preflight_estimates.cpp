// The preflight's estimates: the chat JSON the backfill has left to read (summed on a small
// table, sampled on a large one), and the disk space and time it takes, from measured rates.
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "engine/progress_line.h"
#include "stages/chat_message/checkpoint.h"
#include "stages/commands/preflight_facts.h"

namespace sluice::stages::preflight_checks {

namespace {

// chat_message's size over the chat JSON it comes from, indexes included: 0.688 measured on
// scripts/gen_openwebui.py's corpus (2,000 and 10,000 chats, pg_total_relation_size after a full
// migrate), rounded up. The JSON holds each message twice (history.messages and messages).
constexpr double kSpacePerJsonByte = 0.7;
// Chat JSON migrated per second, all phases, measured end to end with the server on the same two
// cores (README: 548 MiB in 5.3 s; 48 MB/s on a busier machine): the range of a rough estimate.
constexpr double kSlowBytesPerSecond = 50e6, kFastBytesPerSecond = 100e6;
// Chats whose JSON is read to estimate its size: 2000 on a large table, but no more than a 40th of
// a smaller one (at least 500), so that the estimate stays a small part of the run it estimates
// (reading a chat's JSON is a third of the server's work in a backfill); a table with not many more
// than that is read whole.
constexpr double kSampleChats = 2000, kLeastSampleChats = 500, kSampledShare = 1.0 / 40;

double sample_chats(double rows) {
    return std::max(kLeastSampleChats, std::min(kSampleChats, rows * kSampledShare));
}

struct JsonSize {
    double bytes = 0;        // chat JSON the reader would select
    long long sampled = -1;  // chats read to estimate it; -1: all of them
};

// The JSON of the chats the reader selects (stages/chat_message/chat_reader.cpp leaves out the `shared-`
// copies): summed whole on a small table, else extrapolated from a row sample, which reads only
// the sampled chats' TOAST.
JsonSize chat_json_size(Connection& conn, const Facts& facts) {
    const std::string sum =
        "SELECT count(*), coalesce(sum(octet_length(chat::text))"
        " FILTER (WHERE " +
        openwebui::chat_is_selected() + "), 0) FROM " + facts.chat_name();
    double rows = std::atof(
        cell(conn, "SELECT reltuples FROM pg_class WHERE oid = to_regclass($1)", {facts.chat_name()}).c_str());
    if (rows < 0) rows = std::atof(cell(conn, "SELECT count(*) FROM " + facts.chat_name()).c_str());  // never analyzed
    const bool whole = rows <= 2 * sample_chats(rows);
    const double percent = whole ? 100 : 100 * sample_chats(rows) / rows;
    engine::Result r = conn.exec(whole ? sum : sum + " TABLESAMPLE BERNOULLI ($1::float8) REPEATABLE (0)",
                                 whole ? std::vector<std::optional<std::string>>{}
                                       : std::vector<std::optional<std::string>>{std::to_string(percent)});
    const double n = std::atof(PQgetvalue(r.get(), 0, 0)), bytes = std::atof(PQgetvalue(r.get(), 0, 1));
    if (whole) return {bytes, -1};
    return {n > 0 ? bytes / n * rows : 0, static_cast<long long>(n)};
}

// What is left for the backfill: nothing once its checkpoint says complete (unless --resync).
double json_left(Connection& conn, const Facts& facts, double total) {
    const std::optional<Target> target = facts.target();
    if (!target || facts.cfg.resync || !facts.cfg.runs(Phase::backfill)) return total;
    const std::optional<Checkpoint> cp = load_checkpoint(conn, facts.cfg.schema);
    if (!cp || !cp->describes(target->table)) return total;
    return cp->complete ? 0 : std::max(0.0, total - static_cast<double>(cp->bytes));
}

}  // namespace

std::vector<CheckResult> estimates(Connection& conn, const Facts& facts) {
    if (!facts.cfg.runs(Phase::backfill))
        return {result("space", Verdict::skipped, "no backfill among --phases: little to write"),
                result("time", Verdict::skipped, "no backfill among --phases")};
    if (facts.locked_by)  // reading the JSON would wait behind that lock
        return {result("space", Verdict::skipped, "not estimated: " + facts.chat_name() + " is locked"),
                result("time", Verdict::skipped, "not estimated: " + facts.chat_name() + " is locked")};
    const JsonSize json = chat_json_size(conn, facts);
    const double left = json_left(conn, facts, json.bytes);
    if (left <= 0)
        return {result("space", Verdict::ok, "the backfill is complete: it writes nothing more"),
                result("time", Verdict::ok, "the backfill is complete: the other phases take little time")};
    const std::string how = json.sampled < 0 ? "summed" : "estimated from " + std::to_string(json.sampled) + " chats";
    const std::string space = "about " + engine::human_bytes(static_cast<std::uint64_t>(left * kSpacePerJsonByte)) +
                              " for chat_message and its indexes: 0.7 x the " +
                              engine::human_bytes(static_cast<std::uint64_t>(left)) + " of chat JSON to migrate (" +
                              how + "); WAL comes on top until the server's next checkpoint";
    const std::string time = "roughly " + engine::human_duration(left / kFastBytesPerSecond) + " to " +
                             engine::human_duration(left / kSlowBytesPerSecond) +
                             " (at 50-100 MB/s of chat JSON, as measured on two cores: a rough estimate)";
    return {result("space", Verdict::ok, space), result("time", Verdict::ok, time)};
}

}  // namespace sluice::stages::preflight_checks
