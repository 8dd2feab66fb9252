// The chat transform, rule by rule (SPEC §2), and every awkward document PostgreSQL's json accepts.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "engine/copy_binary.h"
#include "engine/utf8.h"
#include "stages/chat_message/chat_scan.h"
#include "stages/chat_message/chat_transform.h"
#include "stages/shared/python_number.h"

using namespace sluice;
using stages::SkipRule;

namespace {

constexpr std::int64_t kNow = 1750000000;  // 2025-06-15

struct Run {
    stages::TransformOutput out;
    std::vector<std::string> rows;  // each row as the JSON object tuple_to_json renders

    std::size_t skipped(SkipRule rule) const { return out.skipped[static_cast<std::size_t>(rule)]; }
    rapidjson::Document row(std::size_t i) const {
        rapidjson::Document d;
        d.Parse<rapidjson::kParseNumbersAsStringsFlag>(rows.at(i).c_str());
        REQUIRE_MESSAGE(!d.HasParseError(), "row is not valid JSON: " << rows.at(i));
        return d;
    }
    std::string field(std::size_t i, const char* name) const {  // raw JSON text of one column
        std::string r = rows.at(i);
        std::string key = std::string("\"") + name + "\":";
        auto at = r.find(key);
        REQUIRE_MESSAGE(at != std::string::npos, name << " missing in " << r);
        at += key.size();
        std::size_t next = std::string::npos;
        for (const char* col :
             {"\"chat_id\":", "\"user_id\":", "\"role\":", "\"parent_id\":", "\"content\":", "\"output\":",
              "\"model_id\":", "\"files\":", "\"sources\":", "\"embeds\":", "\"done\":", "\"status_history\":",
              "\"error\":", "\"usage\":", "\"created_at\":", "\"updated_at\":"}) {
            auto p = r.find(std::string(",") + col, at);
            if (p != std::string::npos && p < next) next = p;
        }
        if (next == std::string::npos) next = r.size() - 1;
        return r.substr(at, next - at);
    }
};

// Whether `text` is JSON as PostgreSQL's json type reads it (lone surrogates allowed).
bool is_json(const std::string& text) {
    stages::scan::Result r;
    std::string work;
    stages::scan::scan_document(text, r, work);
    return r.outcome != stages::scan::Outcome::unparsable;
}

// `id` and `user` as the chat row's own columns: "chat1" and "user1" unless a case needs others.
Run transform(const std::optional<std::string>& chat, std::int64_t now = kNow, std::string_view id = "chat1",
              std::string_view user = "user1") {
    stages::ChatTransform t(now, true);
    Run run;
    stages::ChatRow row{id, user, std::nullopt};
    if (chat) row.chat = std::string_view(*chat);
    t.run(row, run.out);
    for (std::size_t i = 0; i < run.out.rows.count(); ++i)
        run.rows.push_back(engine::tuple_to_json(run.out.rows.tuple(i), stages::chat_message_columns()));
    return run;
}

// A chat whose history.messages holds the given members text.
std::string chat_with(const std::string& members) {
    return R"({"title":"t","history":{"currentId":"m1","messages":{)" + members + "}}}";
}
std::string one_message(const std::string& body) {
    return chat_with(R"("m1":{)" + body + "}");
}

}  // namespace

TEST_CASE("a plain two-message chat becomes two rows with every column as upstream sets it") {
    Run r = transform(
        chat_with(R"("m1":{"role":"user","content":"hi","timestamp":1717000000,"parentId":null},)"
                  R"("m2":{"role":"assistant","content":"hello","model":"llama3","parentId":"m1","done":true,)"
                  R"("usage":{"total_tokens":5},"timestamp":1717000001})"));
    REQUIRE(r.rows.size() == 2);
    CHECK(r.field(0, "id") == R"("chat1-m1")");
    CHECK(r.field(0, "chat_id") == R"("chat1")");
    CHECK(r.field(0, "user_id") == R"("user1")");
    CHECK(r.field(0, "role") == R"("user")");
    CHECK(r.field(0, "parent_id") == "null");
    CHECK(r.field(0, "model_id") == "null");
    CHECK(r.field(0, "content") == R"("hi")");
    CHECK(r.field(0, "created_at") == "1717000000");
    CHECK(r.field(0, "updated_at") == "1717000000");
    CHECK(r.field(1, "parent_id") == R"("m1")");
    CHECK(r.field(1, "model_id") == R"("llama3")");
    CHECK(r.field(1, "usage") == R"({"total_tokens":5})");
    CHECK(r.field(1, "done") == "true");
}

TEST_CASE("a chat that is SQL NULL gives no rows") {
    Run r = transform(std::nullopt);
    CHECK(r.rows.empty());
    CHECK(r.skipped(SkipRule::chat_null) == 1);
}

TEST_CASE("a chat that Python calls falsy gives no rows") {
    for (const char* doc : {"null", "{}", "[]", "\"\"", "0", "false", "0.0", " {} "}) {
        Run r = transform(std::string(doc));
        CHECK_MESSAGE(r.rows.empty(), doc);
        CHECK_MESSAGE(r.skipped(SkipRule::chat_falsy) == 1, doc << " not counted as falsy");
    }
}

TEST_CASE("a chat that is neither object nor falsy gives no rows") {
    for (const char* doc : {"5", "true", "[1]", R"("[1]")", R"("\"str\"")"}) {
        Run r = transform(std::string(doc));
        CHECK_MESSAGE(r.rows.empty(), doc);
        CHECK_MESSAGE(r.skipped(SkipRule::chat_not_object) == 1, doc << " not counted as not-an-object");
    }
}

TEST_CASE("a double-encoded chat is parsed from its string") {
    std::string inner = one_message(R"("role":"user","content":"x\ny","timestamp":1717000000)");
    std::string doc = "\"";
    for (char c : inner) {
        if (c == '"' || c == '\\') doc.push_back('\\');
        doc.push_back(c);
    }
    doc += "\"";
    Run r = transform(doc);
    REQUIRE(r.rows.size() == 1);
    CHECK(r.field(0, "content") == R"("x\ny")");
}

TEST_CASE("a double-encoded chat whose string is not JSON gives no rows") {
    Run r = transform(std::string(R"("not json {")"));
    CHECK(r.rows.empty());
    CHECK(r.skipped(SkipRule::chat_not_json) == 1);
}

TEST_CASE("a lone surrogate inside a double-encoded chat is kept as its escape") {
    Run r = transform(
        std::string(R"("{\"history\":{\"messages\":{\"m\":{\"role\":\"user\",\"content\":\"a\ud800b\"}}}}")"));
    REQUIRE(r.rows.size() == 1);
    CHECK(r.field(0, "content") == R"("a\ud800b")");
}

TEST_CASE("history or messages of the wrong type give no rows") {
    for (const char* doc : {R"({"title":"x"})", R"({"history":[]})", R"({"history":"h"})", R"({"history":null})"}) {
        Run r = transform(std::string(doc));
        CHECK_MESSAGE(r.rows.empty(), doc);
        CHECK_MESSAGE(r.skipped(SkipRule::history_not_object) == 1, doc);
    }
    for (const char* doc :
         {R"({"history":{}})", R"({"history":{"messages":[{"role":"user"}]}})", R"({"history":{"messages":null}})"}) {
        Run r = transform(std::string(doc));
        CHECK_MESSAGE(r.rows.empty(), doc);
        CHECK_MESSAGE(r.skipped(SkipRule::messages_not_object) == 1, doc);
    }
}

TEST_CASE("a repeated history key: the last one counts") {
    Run later_wins = transform(
        std::string(R"({"history":{"messages":{"a":{"role":"user"}}},"history":{"messages":{"b":{"role":"user"}}}})"));
    REQUIRE(later_wins.rows.size() == 1);
    CHECK(later_wins.field(0, "id") == R"("chat1-b")");
    Run later_null = transform(std::string(R"({"history":{"messages":{"a":{"role":"user"}}},"history":null})"));
    CHECK(later_null.rows.empty());
}

TEST_CASE("messages that are not objects are skipped, their neighbours kept") {
    Run r = transform(chat_with(R"("a":"text","b":[1],"c":null,"d":{"role":"user"})"));
    REQUIRE(r.rows.size() == 1);
    CHECK(r.field(0, "id") == R"("chat1-d")");
    CHECK(r.skipped(SkipRule::message_not_object) == 3);
}

TEST_CASE("a message whose role is absent or falsy is skipped") {
    for (const char* role : {"", R"("role":null)", R"("role":"")", R"("role":false)", R"("role":0)", R"("role":0.0)",
                             R"("role":-0)", R"("role":[])", R"("role":{})", R"("role":1e-400)"}) {
        Run r = transform(one_message(role));
        CHECK_MESSAGE(r.rows.empty(), "role " << role);
        CHECK_MESSAGE(r.skipped(SkipRule::role_falsy) == 1, "role " << role);
    }
}

TEST_CASE("booleans in text columns store true or false") {
    Run r = transform(one_message(R"("role":true,"parentId":false,"model":true)"));
    REQUIRE(r.rows.size() == 1);
    CHECK_MESSAGE(r.field(0, "role") == R"("true")", "role true is not the text true");
    CHECK_MESSAGE(r.field(0, "parent_id") == R"("false")", "parentId false is not the text false");
    CHECK_MESSAGE(r.field(0, "model_id") == R"("true")", "model true is not the text true");
}

// Upstream binds the int or float json.loads made of the number; psycopg2 sends str(int) or
// repr(float) as a SQL literal, and the text column stores PostgreSQL's output of that value.
TEST_CASE("an integer in a text column is stored as written, and -0 as the integer 0") {
    const std::string big = "123456789012345678901234567890123456789";
    Run r = transform(one_message(R"("role":5,"parentId":-0,"model":)" + big));
    REQUIRE(r.rows.size() == 1);
    CHECK_MESSAGE(r.field(0, "role") == R"("5")", "role 5 is not the text 5");
    CHECK_MESSAGE(r.field(0, "parent_id") == R"("0")", "parentId -0 is not the int 0's text");
    CHECK_MESSAGE(r.field(0, "model_id") == "\"" + big + "\"", "a big integer lost digits");
    Run neg = transform(one_message(R"("role":-12)"));
    REQUIRE(neg.rows.size() == 1);
    CHECK_MESSAGE(neg.field(0, "role") == R"("-12")", "role -12 is not the text -12");
}

TEST_CASE("any other number in a text column is stored as PostgreSQL prints Python's repr of the float") {
    struct Case {
        const char* json;
        std::string text;
    };
    const Case cases[] = {
        {"1E2", "100.0"},  // repr 100.0
        {"1.5", "1.5"},
        {"1.50", "1.5"},   // repr drops the trailing zero
        {"-1.5", "-1.5"},  // psycopg2 sends " -1.5"
        {"0.1", "0.1"},
        {"1e15", "1000000000000000.0"},     // repr's last fixed-form power of ten
        {"1e16", "10000000000000000"},      // repr 1e+16: numeric scale 0
        {"1e20", "100000000000000000000"},  // repr 1e+20
        {"1.5e-7", "0.00000015"},           // repr 1.5e-07: numeric scale 8
        {"-1.5e-7", "-0.00000015"},
        {"0.0001", "0.0001"},                           // repr's last fixed form below 1
        {"1e-5", "0.00001"},                            // repr 1e-05
        {"123456789.123456789", "123456789.12345679"},  // a float keeps 17 digits
        {"1.7976931348623157e308", "17976931348623157" + std::string(292, '0')},
    };
    for (const Case& c : cases) {
        Run r = transform(one_message(std::string(R"("role":"user","parentId":)") + c.json + R"(,"model":)" + c.json));
        REQUIRE(r.rows.size() == 1);
        CHECK_MESSAGE(r.field(0, "parent_id") == "\"" + c.text + "\"", "parentId " << c.json);
        CHECK_MESSAGE(r.field(0, "model_id") == "\"" + c.text + "\"", "model " << c.json);
    }
    Run role = transform(one_message(R"("role":2.50)"));
    REQUIRE(role.rows.size() == 1);
    CHECK_MESSAGE(role.field(0, "role") == R"("2.5")", "role 2.50 is not stored as the float's text");
}

TEST_CASE("a float zero in a text column is stored as 0.0, never with a minus sign") {
    // numeric has no negative zero; 1e-400 underflows to 0.0 in Python's float().
    for (const char* zero : {"0.0", "-0.0", "0e5", "1e-400", "-1e-400"}) {
        Run r = transform(one_message(std::string(R"("role":"user","parentId":)") + zero));
        REQUIRE(r.rows.size() == 1);
        CHECK_MESSAGE(r.field(0, "parent_id") == R"("0.0")", "parentId " << zero);
    }
}

TEST_CASE("a number beyond a float's range in a text column is stored as Infinity or -Infinity") {
    // float("1e400") is inf, which psycopg2 sends as 'Infinity'::float.
    Run r = transform(one_message(R"("role":1e400,"parentId":-1e400,"model":1.8e308)"));
    REQUIRE(r.rows.size() == 1);
    CHECK_MESSAGE(r.field(0, "role") == R"("Infinity")", "role 1e400 is not Infinity");
    CHECK_MESSAGE(r.field(0, "parent_id") == R"("-Infinity")", "parentId -1e400 is not -Infinity");
    CHECK_MESSAGE(r.field(0, "model_id") == R"("Infinity")", "model 1.8e308 is not Infinity");
}

TEST_CASE("an object or array in a text column rejects that message and keeps its neighbours") {
    Run r = transform(chat_with(R"("a":{"role":{"x":1}},"b":{"role":"user","parentId":[1]},)"
                                R"("c":{"role":"user","model":{}},"d":{"role":"user"})"));
    REQUIRE(r.rows.size() == 1);
    CHECK(r.field(0, "id") == R"("chat1-d")");
    REQUIRE(r.out.rejects.size() == 3);
    CHECK(r.out.rejects[0].key == "chat1-a");
    CHECK(r.out.rejects[0].group == "chat1");
    CHECK(r.out.rejects[0].message.find("role") == 0);
    CHECK(r.out.rejects[1].message.find("parentId") == 0);
    CHECK(r.out.rejects[2].message.find("model") == 0);
    CHECK_MESSAGE(is_json(r.out.rejects[0].row_json), "the reject's row is not JSON: " << r.out.rejects[0].row_json);
}

TEST_CASE("a NUL or a lone surrogate in a text column rejects that message only") {
    Run r = transform(chat_with(R"("a":{"role":"us\u0000er"},"b":{"role":"user","parentId":"\ud800"},)"
                                R"("c":{"role":"user","model":"x\udc00"},"d":{"role":"user"},)"
                                R"("e\u0000":{"role":"user"},"f\udbff":{"role":"user"})"));
    REQUIRE(r.rows.size() == 1);
    CHECK(r.field(0, "id") == R"("chat1-d")");
    REQUIRE(r.out.rejects.size() == 5);
    for (const auto& rej : r.out.rejects) {
        CHECK_MESSAGE(rej.sqlstate == "22021", rej.key << ": " << rej.message);
        CHECK_MESSAGE(is_json(rej.row_json), "the reject's row is not JSON: " << rej.row_json);
    }
    CHECK(r.out.rejects[4].row_json.find(R"("id":"chat1-f\udbff")") != std::string::npos);
}

TEST_CASE("a repeated message key: the last value counts, in the first one's place") {
    Run r = transform(
        chat_with(R"("a":{"role":"user","content":1},"b":{"role":"user"},"a":{"role":"assistant","content":2})"));
    REQUIRE(r.rows.size() == 2);
    CHECK(r.field(0, "id") == R"("chat1-a")");
    CHECK(r.field(0, "role") == R"("assistant")");
    CHECK(r.field(0, "content") == "2");
    CHECK(r.field(1, "id") == R"("chat1-b")");
    Run gone = transform(chat_with(R"("a":{"role":"user"},"a":"replaced by a string")"));
    CHECK(gone.rows.empty());
}

TEST_CASE("a repeated key inside a message: the last value counts") {
    Run r = transform(one_message(R"("role":"user","content":"first","content":"second","role":"assistant")"));
    REQUIRE(r.rows.size() == 1);
    CHECK(r.field(0, "content") == R"("second")");
    CHECK(r.field(0, "role") == R"("assistant")");
}

TEST_CASE("absent JSON fields are the JSON text null, not SQL NULL") {
    Run r = transform(one_message(R"("role":"user")"));
    REQUIRE(r.rows.size() == 1);
    auto fields = engine::decode_tuple(r.out.rows.tuple(0));
    for (std::size_t col : {5u, 6u, 8u, 9u, 10u, 12u, 13u, 14u}) {
        CHECK_MESSAGE(!fields[col].is_null, stages::chat_message_columns()[col].name << " is SQL NULL");
        CHECK_MESSAGE(fields[col].bytes == "null", stages::chat_message_columns()[col].name);
    }
}

TEST_CASE("done: absent is true, true and false as given, null is SQL NULL") {
    CHECK(transform(one_message(R"("role":"user")")).field(0, "done") == "true");
    CHECK(transform(one_message(R"("role":"user","done":true)")).field(0, "done") == "true");
    CHECK(transform(one_message(R"("role":"user","done":false)")).field(0, "done") == "false");
    CHECK(transform(one_message(R"("role":"user","done":null)")).field(0, "done") == "null");
}

TEST_CASE("done holding a number equal to 1 or 0 is stored as true or false, as SQLAlchemy's Boolean binds it") {
    // Python equality decides: the ints 1, 0 (and -0), and any float that reads as 1.0 or 0.0.
    for (const char* one : {"1", "1.0", "1e0", "1.00", "10e-1", "1.0000000000000001"}) {
        Run r = transform(one_message(std::string(R"("role":"user","done":)") + one));
        REQUIRE_MESSAGE(r.rows.size() == 1, "done " << one << " was not stored");
        CHECK_MESSAGE(r.field(0, "done") == "true", "done " << one << " is not true");
    }
    for (const char* zero : {"0", "-0", "0.0", "-0.0", "0E5", "1e-400"}) {
        Run r = transform(one_message(std::string(R"("role":"user","done":)") + zero));
        REQUIRE_MESSAGE(r.rows.size() == 1, "done " << zero << " was not stored");
        CHECK_MESSAGE(r.field(0, "done") == "false", "done " << zero << " is not false");
    }
}

TEST_CASE("done holding any other number, a string, an array or an object rejects the message") {
    for (const char* done : {"2", "-1", "-1.0", "0.5", "1e400", R"("yes")", R"("true")", "[]", "{}"}) {
        Run r = transform(one_message(std::string(R"("role":"user","done":)") + done));
        CHECK_MESSAGE(r.rows.empty(), "done " << done << " was stored");
        REQUIRE_MESSAGE(r.out.rejects.size() == 1, "done " << done << " was not rejected");
        CHECK_MESSAGE(r.out.rejects[0].sqlstate == "22P02", "done " << done << ": wrong SQLSTATE");
        CHECK_MESSAGE(r.out.rejects[0].message.find("done") == 0,
                      "the reject does not name done: " << r.out.rejects[0].message);
    }
}

TEST_CASE("timestamps are normalized as upstream's int(float(t)) and range check do") {
    struct Case {
        const char* ts;
        std::int64_t expect;
    };
    const Case cases[] = {
        {nullptr, kNow},  // absent
        {"null", kNow},
        {"1717000000", 1717000000},
        {"1717000000123", 1717000000},      // milliseconds
        {"1717000000.9", 1717000000},       // truncation
        {"\"1717000001\"", 1717000001},     // numeric string
        {"\" 1717000002 \"", 1717000002},   // Python strips whitespace
        {"\"1_717_000_003\"", 1717000003},  // and accepts digit underscores
        {"\"1.717000004e9\"", 1717000004},
        {"\"junk\"", kNow},
        {"\"inf\"", kNow},
        {"\"nan\"", kNow},
        {"true", kNow},              // int(float(True)) is 1: before 2020
        {"1500000000", kNow},        // before 2020
        {"1577836800", 1577836800},  // the first second allowed
        {"1750086400", 1750086400},  // now + 1 day is allowed
        {"1750086401", kNow},        // a second later is not
        {"\"1e9\"", kNow},
        {"123456789012345678901234567890", kNow},
        {"-1717000000", kNow},
        {"{}", kNow},
    };
    for (const Case& c : cases) {
        std::string body = R"("role":"user")";
        if (c.ts) body += std::string(R"(,"timestamp":)") + c.ts;
        Run r = transform(one_message(body));
        REQUIRE(r.rows.size() == 1);
        CHECK_MESSAGE(r.field(0, "created_at") == std::to_string(c.expect), "timestamp " << (c.ts ? c.ts : "absent"));
        CHECK(r.field(0, "updated_at") == r.field(0, "created_at"));
    }
}

TEST_CASE("JSON values keep their text: big numbers, escapes, duplicate keys, key order") {
    const std::string usage =
        R"({"z":1,"a":123456789012345678901234567890,"f":1.5e300,"n":-0.0,"e":1E+2,"a":2,"s":"\ud800\u0000\"é😀"})";
    Run r = transform(one_message(R"("role":"user","usage":)" + usage + R"(,"content":"\udc00 x \ud83d\ude00")"));
    REQUIRE(r.rows.size() == 1);
    CHECK(r.field(0, "usage") == usage);
    CHECK(r.field(0, "content") == R"("\udc00 x \ud83d\ude00")");
}

TEST_CASE("whitespace and newlines inside a JSON value are kept as written") {
    Run r = transform(one_message("\"role\" : \"user\" ,\n \"files\" :\t[ 1 ,\n 2 ] "));
    REQUIRE(r.rows.size() == 1);
    CHECK(r.field(0, "files") == "[ 1 ,\n 2 ]");
}

TEST_CASE("nesting thousands deep is handled without overflowing the stack") {
    std::string deep(20000, '[');
    deep += std::string(20000, ']');
    Run r = transform(one_message(R"("role":"user","output":)" + deep));
    REQUIRE(r.rows.size() == 1);
    CHECK(r.field(0, "output").size() == deep.size());
}

TEST_CASE("escaped message keys become the decoded text of the message id") {
    Run r = transform(chat_with(R"("a\"b\u00e9":{"role":"user"})"));
    REQUIRE(r.rows.size() == 1);
    CHECK(engine::decode_tuple(r.out.rows.tuple(0))[0].bytes == "chat1-a\"b\xC3\xA9");
}

TEST_CASE("a chat that is not valid JSON is rejected whole, never dropped silently") {
    // A byte that is not UTF-8 outside a string is no JSON at all (inside one, see below).
    for (std::string doc :
         {std::string("{\"history\":"), std::string("{\"a\":\xFF}"), std::string("{}\0{}", 5), std::string("NaN")}) {
        Run r = transform(doc);
        CHECK(r.rows.empty());
        REQUIRE_MESSAGE(r.out.rejects.size() == 1, "no reject for " << doc);
        CHECK(r.out.rejects[0].key == "chat1");
        CHECK_MESSAGE(is_json(r.out.rejects[0].row_json),
                      "the reject's row is not JSON: " << r.out.rejects[0].row_json);
    }
}

TEST_CASE("python_int_of_float follows Python for numbers and strings") {
    using stages::python_int_of_float;
    CHECK(python_int_of_float("12.9", false) == 12);
    CHECK(python_int_of_float("-12.9", false) == -12);
    CHECK(python_int_of_float("1e3", false) == 1000);
    CHECK(python_int_of_float("1e400", false) == std::nullopt);
    CHECK(python_int_of_float(" +5. ", true) == 5);
    CHECK(python_int_of_float(".5", true) == 0);
    CHECK(python_int_of_float("5_0", true) == 50);
    CHECK(python_int_of_float("5__0", true) == std::nullopt);
    CHECK(python_int_of_float("_5", true) == std::nullopt);
    CHECK(python_int_of_float("0x10", true) == std::nullopt);
    CHECK(python_int_of_float("", true) == std::nullopt);
    CHECK(python_int_of_float("1e", true) == std::nullopt);
    CHECK(python_int_of_float("Infinity", true) == std::nullopt);
    CHECK(python_int_of_float("\xD9\xA1\xD9\xA2", true) == 12);          // Arabic-Indic digits
    CHECK(python_int_of_float("\xEF\xBC\x91\xEF\xBC\x97", true) == 17);  // fullwidth digits
    CHECK(python_int_of_float("\xC2\xA0"
                              "5\xE3\x80\x80",
                              true) == 5);  // NBSP and ideographic space
    CHECK(python_int_of_float("\xC3\xA9"
                              "5",
                              true) == std::nullopt);  // a letter is not a digit
}

TEST_CASE("numbers RapidJSON calls too big are kept as written in JSON columns, read as Python does in text ones") {
    std::string huge(400, '7');
    Run r = transform(one_message(R"("role":1e400,"usage":{"t":1e400,"big":)" + huge + R"(},"model":)" + huge +
                                  R"(,"content":"\ud800","timestamp":1e400)"));
    REQUIRE(r.rows.size() == 1);
    CHECK_MESSAGE(r.field(0, "role") == R"("Infinity")", "role 1e400 is not float('1e400') as PostgreSQL prints it");
    CHECK(r.field(0, "usage") == R"({"t":1e400,"big":)" + huge + "}");
    CHECK(r.field(0, "model_id") == "\"" + huge + "\"");
    CHECK(r.field(0, "content") == R"("\ud800")");
    CHECK(r.field(0, "created_at") == std::to_string(kNow));
    Run falsy = transform(one_message(R"("role":0e400,"usage":1e400)"));
    CHECK_MESSAGE(falsy.rows.empty(), "role 0e400 is 0.0, falsy");
}

TEST_CASE("a raw control character inside a double-encoded chat's string makes it not JSON") {
    // The inner document holds a raw ESC inside a string: Python's json.loads refuses it.
    Run r = transform(
        std::string(R"("{\"history\":{\"messages\":{\"m\":{\"role\":\"user\",\"content\":\"a\u001bb\"}}}}")"));
    CHECK(r.rows.empty());
    CHECK(r.skipped(SkipRule::chat_not_json) == 1);
}

TEST_CASE("a malformed number next to one too big is still malformed") {
    // "0-0.0" is not JSON; the retry that handles 1e400 must not turn it into something valid.
    Run r = transform(one_message(R"("role":1e400,"usage":[0-0.0])"));
    CHECK(r.rows.empty());
    REQUIRE(r.out.rejects.size() == 1);
    CHECK(r.out.rejects[0].key == "chat1");
}

// ---------------------------------------------------------------- bytes that are not UTF-8
// A SQL_ASCII database stores them and sends them as they are; sluice's UTF-8 connections
// cannot store them back. The message they reach is rejected (22021), nothing else.

namespace {

// The reject's row is JSON that a UTF-8 connection carries and PostgreSQL's json type accepts.
bool storable_row(const std::string& row) {
    return engine::valid_utf8(row) && is_json(row);
}

}  // namespace

TEST_CASE("a byte that is not UTF-8 in content rejects that message with 22021 and keeps its neighbours") {
    Run r =
        transform(chat_with("\"m1\":{\"role\":\"user\"},\"m2\":{\"role\":\"user\",\"content\":\"bad \xFF here\"},"
                            "\"m3\":{\"role\":\"user\"}"));
    REQUIRE(r.rows.size() == 2);
    CHECK(r.field(0, "id") == R"("chat1-m1")");
    CHECK(r.field(1, "id") == R"("chat1-m3")");
    REQUIRE(r.out.rejects.size() == 1);
    const engine::Reject& rej = r.out.rejects[0];
    CHECK(rej.key == "chat1-m2");
    CHECK(rej.group == "chat1");
    CHECK(rej.sqlstate == "22021");
    CHECK_MESSAGE(rej.message.find("content holds bytes that are not valid UTF-8") == 0, rej.message);
    CHECK_MESSAGE(storable_row(rej.row_json), "the reject's row cannot be stored: " << rej.row_json);
    CHECK_MESSAGE(rej.row_json.find(R"("content":"bad \u00ff here")") != std::string::npos, rej.row_json);
}

TEST_CASE("a byte that is not UTF-8 in role, parentId or model rejects that message only") {
    Run r =
        transform(chat_with("\"a\":{\"role\":\"us\xFF"
                            "er\"},\"b\":{\"role\":\"user\",\"parentId\":\"p\xC3\"},"
                            "\"c\":{\"role\":\"user\",\"model\":\"euro \xE2\x82\"},\"d\":{\"role\":\"user\"}"));
    REQUIRE(r.rows.size() == 1);
    CHECK(r.field(0, "id") == R"("chat1-d")");
    REQUIRE(r.out.rejects.size() == 3);
    const char* columns[] = {"role", "parentId", "model"};
    for (std::size_t i = 0; i < 3; ++i) {
        const engine::Reject& rej = r.out.rejects[i];
        CHECK_MESSAGE(rej.sqlstate == "22021", rej.key << ": " << rej.message);
        CHECK_MESSAGE(rej.message.find(std::string(columns[i]) + " holds bytes that are not valid UTF-8") == 0,
                      rej.message);
        CHECK_MESSAGE(storable_row(rej.row_json), "the reject's row cannot be stored: " << rej.row_json);
    }
    CHECK_MESSAGE(r.out.rejects[2].row_json.find(R"("model":"euro \u00e2\u0082")") != std::string::npos,
                  "a truncated sequence is not written byte by byte: " << r.out.rejects[2].row_json);
}

TEST_CASE("a byte that is not UTF-8 in a message key rejects that message, its id escaped in the row") {
    Run r =
        transform(chat_with("\"m1\":{\"role\":\"user\"},\"m\xFF"
                            "2\":{\"role\":\"user\"}"));
    REQUIRE(r.rows.size() == 1);
    REQUIRE(r.out.rejects.size() == 1);
    CHECK(r.out.rejects[0].key ==
          "chat1-m\xFF"
          "2");
    CHECK_MESSAGE(r.out.rejects[0].message.find("the message key holds bytes that are not valid UTF-8") == 0,
                  r.out.rejects[0].message);
    CHECK_MESSAGE(r.out.rejects[0].row_json.find(R"("id":"chat1-m\u00ff2")") != std::string::npos,
                  r.out.rejects[0].row_json);
}

TEST_CASE("a byte that is not UTF-8 anywhere inside any JSON column rejects the message, however deep") {
    for (const char* member : {"content", "output", "files", "sources", "embeds", "error", "usage", "statusHistory"}) {
        for (const char* value : {"{\"a\":[{\"b\":\"x\xFF\"}]}", "[{\"\xC3\":1}]"}) {
            Run r = transform(one_message(std::string("\"role\":\"user\",\"") + member + "\":" + value));
            CHECK_MESSAGE(r.rows.empty(), member << " = " << value << " was stored");
            REQUIRE_MESSAGE(r.out.rejects.size() == 1, member << " = " << value << " was not rejected");
            CHECK_MESSAGE(r.out.rejects[0].message.find(std::string(member) + " holds bytes") == 0,
                          r.out.rejects[0].message);
            CHECK_MESSAGE(storable_row(r.out.rejects[0].row_json), r.out.rejects[0].row_json);
        }
    }
}

TEST_CASE("bytes that are not UTF-8 where no column takes them leave the rows as they are") {
    // The chat's title, a member the transform does not read, a timestamp string (read as `now`).
    Run r = transform(
        "{\"title\":\"\xFF\",\"history\":{\"messages\":{\"m1\":{\"role\":\"user\",\"other\":\"\xFF\","
        "\"content\":\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\",\"timestamp\":\"17\xFF\"}}}}");
    REQUIRE(r.rows.size() == 1);
    CHECK(r.out.rejects.empty());
    CHECK_MESSAGE(r.field(0, "content") == "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"",
                  "valid UTF-8 beyond ASCII is not stored as written");
    CHECK(r.field(0, "created_at") == std::to_string(kNow));
}

TEST_CASE("a chat whose own id or user_id is not UTF-8 rejects each of its messages") {
    std::string doc = chat_with(R"("m1":{"role":"user"},"m2":{"role":"user"})");
    Run by_user = transform(doc, kNow, "chat1", "user\xFF");
    CHECK(by_user.rows.empty());
    REQUIRE(by_user.out.rejects.size() == 2);
    CHECK_MESSAGE(by_user.out.rejects[1].message.find("user_id holds bytes") == 0, by_user.out.rejects[1].message);
    CHECK(storable_row(by_user.out.rejects[1].row_json));
    Run by_id = transform(doc, kNow, "chat\xFF", "user1");
    CHECK(by_id.rows.empty());
    REQUIRE(by_id.out.rejects.size() == 2);
    CHECK_MESSAGE(by_id.out.rejects[0].message.find("chat_id holds bytes") == 0, by_id.out.rejects[0].message);
}

TEST_CASE("a double-encoded chat with a byte that is not UTF-8 rejects only the message the byte reaches") {
    Run r =
        transform(std::string("\"{\\\"history\\\":{\\\"messages\\\":{\\\"m1\\\":{\\\"role\\\":\\\"user\\\"},"
                              "\\\"m2\\\":{\\\"role\\\":\\\"user\\\",\\\"content\\\":\\\"\xFF\\\"}}}}\""));
    REQUIRE(r.rows.size() == 1);
    CHECK(r.field(0, "id") == R"("chat1-m1")");
    REQUIRE(r.out.rejects.size() == 1);
    CHECK(r.out.rejects[0].key == "chat1-m2");
    CHECK(r.out.rejects[0].sqlstate == "22021");
}

TEST_CASE("a scan, strict or not, reads a document with bytes that are not UTF-8 and finds each value where it lies") {
    std::string doc = "{\"history\":{\"messages\":{\"k\xFF\":{\"role\":\"r\xC3\",\"content\":[\"\xE2\x82\"]}}}}";
    for (bool strict : {true, false}) {
        stages::scan::Result r;
        std::string work;
        stages::scan::scan_document(doc, r, work, strict);
        REQUIRE_MESSAGE(r.outcome == stages::scan::Outcome::ok, "strict " << strict << ": " << r.error);
        REQUIRE(r.messages.size() == 1);
        CHECK(r.messages[0].key.raw(doc) == "\"k\xFF\"");
        CHECK(r.messages[0].fields[stages::scan::role].raw(doc) == "\"r\xC3\"");
        CHECK(r.messages[0].fields[stages::scan::content].raw(doc) == "[\"\xE2\x82\"]");
    }
}

TEST_CASE("values left in the chat's text make, pieced together, the very tuples the copied values make") {
    const std::string doc = chat_with(R"("m1":{"role":"user","content":"hello","usage":{"t":[1,2]},"done":null},)"
                                      R"("m2":{"role":"assistant","parentId":"m1","content":"x","files":[]},)"
                                      R"("m3":{"role":"user"},"m4":{"role":5})");
    const std::string double_encoded =
        "\"{\\\"history\\\":{\\\"messages\\\":{\\\"m1\\\":{\\\"role\\\":\\\"user\\\","
        "\\\"content\\\":\\\"inside\\\"}}}}\"";
    for (const std::string& chat : {doc, double_encoded}) {
        stages::ChatTransform t(kNow, false);
        stages::TransformOutput copied, in_place;
        in_place.outside_from = 0;  // every JSON value stays in the text
        t.run({"chat1", "user1", std::string_view(chat)}, copied);
        t.run({"chat1", "user1", std::string_view(chat)}, in_place);
        REQUIRE(in_place.rows.count() == copied.rows.count());
        CHECK_MESSAGE(in_place.rows.outside.empty() == (chat == double_encoded),
                      "values of a decoded document were left outside (its text is the transform's scratch)");
        std::string sent;
        for (std::string_view piece : in_place.rows.pieces(0, in_place.rows.count()))
            sent.append(piece);
        CHECK_MESSAGE(sent == copied.rows.tuples, "the pieces do not make the copied tuples");
        for (std::size_t i = 0; i < copied.rows.count(); ++i) {
            std::string storage;
            CHECK_MESSAGE(in_place.rows.tuple(i, storage) == copied.rows.tuple(i), "tuple " << i << " differs");
            const std::vector<engine::Field> lead = engine::decode_tuple(in_place.rows.head(i), 2),
                                             whole = engine::decode_tuple(copied.rows.tuple(i));
            CHECK_MESSAGE((lead.size() == 2 && lead[0].bytes == whole[0].bytes && lead[1].bytes == whole[1].bytes),
                          "tuple " << i << "'s head does not give its key and group");
        }
        if (!in_place.rows.outside.empty()) {
            CHECK_THROWS_AS(in_place.rows.tuple(0), std::logic_error);
            std::string sent_1_to_3;
            for (std::string_view piece : in_place.rows.pieces(1, 3))
                sent_1_to_3.append(piece);
            REQUIRE(copied.rows.count() > 3);
            const std::vector<std::size_t>& at = copied.rows.starts;
            CHECK_MESSAGE(sent_1_to_3 == copied.rows.tuples.substr(at[1], at[3] - at[1]), "rows 1 and 2 differ");
        }
    }
}
