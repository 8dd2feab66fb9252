// The run's summary: the JSON that --summary-json writes (every key, with its type) and the
// human lines with the same figures.
#include <doctest/doctest.h>

#include <rapidjson/document.h>

#include <string>
#include <vector>

#include "stages/commands/run_summary.h"

using namespace sluice::stages;

namespace {

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

BackfillFigures some_backfill() {
    BackfillFigures f;
    f.state = "complete (resumed)";
    f.chats_read = 3099;
    f.messages_written = 45057;
    f.already_present = 12;
    f.rejected = 1;
    f.skipped[static_cast<int>(SkipRule::chat_null)] = 2;
    f.skipped[static_cast<int>(SkipRule::role_falsy)] = 1042;
    f.bytes = 87417054;
    f.shared_chats = 77;
    f.chats_without_user = 1;
    f.run_chats = 1500;
    f.run_messages = 20000;
    f.run_bytes = 40u << 20;
    f.run_seconds = 2;
    f.attempts = 3;
    f.rejects_table = "\"public\".\"sluice_reject\"";
    return f;
}

RunSummary some_run(bool with_backfill) {
    RunSummary s;
    s.schema = "public";
    s.started_at = "2026-01-31T12:00:00Z";
    s.seconds = 4.25;
    s.phases = {{"schema", 0.01, "done", "created it"},
                {"backfill", 2, "done", "complete (resumed): ..."},
                {"indexes", 1.5, "failed", "permission denied"}};
    if (with_backfill) s.backfill = some_backfill();
    s.reject_file = "sluice-rejects.jsonl";
    s.rejects_exported = 1;
    s.peak_memory_bytes = 55u << 20;
    s.exit_status = 1;
    s.outcome = "failed";
    s.error = "permission denied for table chat_message";
    return s;
}

enum class Type { string, integer, number, object, array, string_or_null, integer_or_null, object_or_null };

bool has_type(const rapidjson::Value& v, Type t) {
    switch (t) {
        case Type::string:
            return v.IsString();
        case Type::integer:
            return v.IsInt64() || v.IsUint64();
        case Type::number:
            return v.IsNumber();
        case Type::object:
            return v.IsObject();
        case Type::array:
            return v.IsArray();
        case Type::string_or_null:
            return v.IsString() || v.IsNull();
        case Type::integer_or_null:
            return v.IsUint64() || v.IsNull();
        case Type::object_or_null:
            return v.IsObject() || v.IsNull();
    }
    return false;
}

// Each key of `object` is one of `keys`, with its type, and each of `keys` is there.
void check_keys(const rapidjson::Value& object, const std::vector<std::pair<const char*, Type>>& keys,
                const std::string& where) {
    REQUIRE_MESSAGE(object.IsObject(), where << " is not an object");
    CHECK_MESSAGE(object.MemberCount() == keys.size(),
                  where << " has " << object.MemberCount() << " keys, the schema " << keys.size());
    for (const auto& [name, type] : keys) {
        const auto member = object.FindMember(name);
        REQUIRE_MESSAGE(member != object.MemberEnd(), where << " lacks " << name);
        CHECK_MESSAGE(has_type(member->value, type), where << "." << name << " has another type");
    }
}

rapidjson::Document parsed(const std::string& json) {
    rapidjson::Document d;
    d.Parse(json.c_str(), json.size());
    REQUIRE_MESSAGE(!d.HasParseError(), "not JSON: " << json);
    return d;
}

}  // namespace

TEST_CASE("the JSON summary holds every figure of the human one, each key with its type") {
    const rapidjson::Document d = parsed(to_json(some_run(true)));
    check_keys(d,
               {{"command", Type::string},
                {"schema", Type::string},
                {"started_at", Type::string},
                {"seconds", Type::number},
                {"exit_status", Type::integer},
                {"outcome", Type::string},
                {"error", Type::string_or_null},
                {"phases", Type::array},
                {"backfill", Type::object_or_null},
                {"reject_file", Type::string},
                {"rejects_exported", Type::integer},
                {"peak_memory_bytes", Type::integer},
                {"rejected", Type::integer_or_null},
                {"warnings", Type::array},
                {"version", Type::string},
                {"target", Type::object},
                {"verdict", Type::string_or_null},
                {"error_class", Type::string_or_null},
                {"sqlstate", Type::string_or_null}},
               "the summary");
    REQUIRE(d["phases"].Size() == 3);
    for (const auto& phase : d["phases"].GetArray())
        check_keys(
            phase,
            {{"name", Type::string}, {"seconds", Type::number}, {"outcome", Type::string}, {"detail", Type::string}},
            "a phase");
    const rapidjson::Value& b = d["backfill"];
    check_keys(b,
               {{"state", Type::string},
                {"chats_read", Type::integer},
                {"messages_written", Type::integer},
                {"already_present", Type::integer},
                {"rejected", Type::integer},
                {"skipped_by_rule", Type::object},
                {"bytes", Type::integer},
                {"shared_chats_left_out", Type::integer_or_null},
                {"chats_without_user_left_out", Type::integer_or_null},
                {"this_run", Type::object},
                {"ranges", Type::integer},
                {"rejects_table", Type::string}},
               "backfill");
    check_keys(b["skipped_by_rule"],
               {{"chat_null", Type::integer},
                {"chat_falsy", Type::integer},
                {"chat_not_json", Type::integer},
                {"chat_not_object", Type::integer},
                {"history_not_object", Type::integer},
                {"messages_not_object", Type::integer},
                {"message_not_object", Type::integer},
                {"role_falsy", Type::integer}},
               "skipped_by_rule");
    check_keys(b["this_run"],
               {{"chats", Type::integer},
                {"messages", Type::integer},
                {"updated", Type::integer},
                {"removed", Type::integer},
                {"bytes", Type::integer},
                {"seconds", Type::number},
                {"attempts", Type::integer},
                {"lanes", Type::integer},
                {"ranges_read", Type::integer}},
               "this_run");
}

TEST_CASE("the JSON summary's values are the run's figures") {
    const rapidjson::Document d = parsed(to_json(some_run(true)));
    CHECK(std::string(d["command"].GetString()) == "migrate");
    CHECK(d["exit_status"].GetInt() == 1);
    CHECK(std::string(d["outcome"].GetString()) == "failed");
    CHECK(std::string(d["error"].GetString()) == "permission denied for table chat_message");
    CHECK(d["seconds"].GetDouble() == doctest::Approx(4.25));
    CHECK(std::string(d["phases"][2]["outcome"].GetString()) == "failed");
    const rapidjson::Value& b = d["backfill"];
    CHECK(b["messages_written"].GetUint64() == 45057);
    CHECK(b["skipped_by_rule"]["role_falsy"].GetUint64() == 1042);
    CHECK(b["shared_chats_left_out"].GetUint64() == 77);
    CHECK(b["this_run"]["attempts"].GetUint64() == 3);
    CHECK(d["peak_memory_bytes"].GetUint64() == (55u << 20));
}

TEST_CASE("a run without a backfill, or without an error, says null for them") {
    RunSummary s = some_run(false);
    s.error.clear();
    const rapidjson::Document d = parsed(to_json(s));
    CHECK_MESSAGE(d["backfill"].IsNull(), "backfill is not null");
    CHECK_MESSAGE(d["error"].IsNull(), "error is not null");
}

TEST_CASE(
    "the human summary aligns the skipped-by-rule counts, says why shared chats are left out, counts every attempt") {
    const std::string text = backfill_text(some_backfill());
    CHECK_MESSAGE(contains(text,
                           "complete (resumed): 3099 chats read, 45057 messages written, 12 already present, "
                           "1 rejected\n"),
                  text);
    CHECK_MESSAGE(contains(text, "\n         2  chat is SQL NULL\n      1042  message role is absent or empty\n"),
                  "the counts are not right-aligned in one column:\n"
                      << text);
    CHECK_MESSAGE(contains(text, "left out by design: 77 shared-link chats, 1 chat without a user"), text);
    CHECK_MESSAGE(contains(text, "user_id 'shared-...', copies a chat"), "does not say why: " << text);
    CHECK_MESSAGE(contains(text,
                           "this run: 1500 chats (40.0 MiB) in 2.0s: 10000 messages/s, 20.0 MiB/s\n"
                           "      (3 attempts"),
                  text);
    CHECK_MESSAGE(contains(text, "WARNING: 1 message was not stored"), "not '1 message': " << text);
    CHECK_MESSAGE(!contains(text, "MB/s"), "MB/s where it divides by 2^20: " << text);
    // Under the headline (one line, as the phase's line goes on), every line fits 80 columns.
    for (std::size_t at = text.find('\n') + 1, end; at < text.size(); at = end + 1) {
        end = text.find('\n', at);
        CHECK_MESSAGE(end - at <= 80, "a line longer than 80 columns: " << text.substr(at, end - at));
    }
}

TEST_CASE("one chat, one message: the summary says so in the singular") {
    BackfillFigures f = some_backfill();
    f.chats_read = 1;
    f.messages_written = 1;
    f.state = "complete";
    CHECK_MESSAGE(contains(backfill_text(f), "complete: 1 chat read, 1 message written"), backfill_text(f));
    f.state = "already complete";
    CHECK_MESSAGE(contains(backfill_text(f), "already complete: 1 message from 1 chat"), backfill_text(f));
}

TEST_CASE("the JSON's top level counts the rejects and lists the run's warnings; null when the backfill did not run") {
    RunSummary s = some_run(true);
    s.warnings = {"1 message was not stored; ...", "server warning: x"};
    rapidjson::Document d = parsed(to_json(s));
    CHECK(d["rejected"].GetUint64() == 1);
    REQUIRE(d["warnings"].Size() == 2);
    CHECK(std::string(d["warnings"][1].GetString()) == "server warning: x");
    d = parsed(to_json(some_run(false)));
    CHECK_MESSAGE(d["rejected"].IsNull(), "a count of rejects without a backfill");
    CHECK(d["warnings"].Size() == 0);
}

TEST_CASE("the verdict's clause counts the rejects, and says so when there are none") {
    RunSummary s = some_run(true);
    CHECK(rejects_clause(s) == "; 1 message rejected, kept in table \"public\".\"sluice_reject\"");
    s.backfill->rejected = 0;
    CHECK(rejects_clause(s) == "; no message rejected");
    CHECK(rejects_clause(some_run(false)).empty());
    CHECK(rejects_warning(some_backfill()) ==
          "1 message was not stored; each is, with the reason, in table \"public\".\"sluice_reject\" "
          "(sluice rejects exports them)");
}
