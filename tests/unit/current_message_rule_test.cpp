// The current_message_id rule (SPEC §6), one case per rule and per hard case of issue 20; the
// same expectations as tests/e2e/current_message_oracle_test.py, worked out by hand. Chat id "c".
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "stages/current_message/rule.h"

using namespace sluice::stages::current_message;

namespace {

struct Row {
    std::string id;
    std::optional<std::string> parent;
    std::optional<std::int64_t> t;
};

Row row(const std::string& key, std::optional<std::string> parent, std::optional<std::int64_t> t) {
    return Row{"c-" + key, std::move(parent), t};
}

Decision decide(std::optional<std::string> blob, std::vector<Row> rows = {},
                std::optional<std::string> current = std::nullopt) {
    static Rule rule;  // reused, as a parse thread reuses its own
    ChatInput in{"c", current, blob, {}};
    for (const Row& r : rows)
        in.rows.push_back({r.id, r.parent, r.t});
    Decision d;
    rule.decide(in, d);
    return d;
}

std::string msgs(const std::string& body, const std::string& extra = "") {
    return "{\"history\":{\"messages\":{" + body + "}}" + extra + "}";
}

// Every result the decision accepts, sorted.
std::vector<std::string> results(const Decision& d) {
    REQUIRE_MESSAGE(d.reject.empty(), "unexpected reject: " << d.reject);
    std::vector<std::string> r = d.ties;
    if (r.empty() && d.resolved) r.push_back(d.result);
    std::sort(r.begin(), r.end());
    return r;
}

using Texts = std::vector<std::string>;

}  // namespace

TEST_CASE("the column's value, when a key, is the first candidate and is kept") {
    Decision d = decide(std::nullopt, {row("a", std::nullopt, 1), row("b", "a", 2)}, "a");
    CHECK_MESSAGE(d.path == Path::rows, "a chat with rows takes path A");
    CHECK(results(d) == Texts{"a"});
    CHECK_MESSAGE(!d.write("a"), "an equal value is not written");
}

TEST_CASE("candidates are stripped of the chat's prefix once, and read in SPEC order") {
    CHECK(results(decide(msgs("", ",\"currentId\":\"c-a\""), {row("a", std::nullopt, 1), row("b", "a", 2)})) ==
          Texts{"a"});
    CHECK(results(decide("{\"currentId\":\"c-c-a\",\"branchPointMessageId\":\"a\"}",
                         {row("a", std::nullopt, 9), row("c-a", std::nullopt, 1)})) == Texts{"c-a"});
    std::vector<Row> rows = {row("h", std::nullopt, 0), row("t", std::nullopt, 1), row("p", std::nullopt, 2),
                             row("z", std::nullopt, 3)};
    CHECK(results(decide("{\"branchPointMessageId\":\"p\",\"currentId\":\"t\",\"history\":{\"currentId\":\"h\"}}", rows,
                         "gone")) == Texts{"h"});
    CHECK(results(decide("{\"branchPointMessageId\":\"p\",\"currentId\":\"nope\"}", rows)) == Texts{"p"});
}

TEST_CASE("candidates that are not strings are skipped") {
    std::vector<Row> rows = {row("5", std::nullopt, 1), row("true", std::nullopt, 2), row("n", std::nullopt, 9)};
    for (std::string v : {"5", "true", "null", "{}", "[]", "[\"5\"]", "\"\""}) {
        CAPTURE(v);
        CHECK(results(decide("{\"history\":{\"currentId\":" + v + "},\"currentId\":" + v + "}", rows)) == Texts{"n"});
    }
}

TEST_CASE("a duplicate key counts with its last value") {
    std::vector<Row> rows = {row("a", std::nullopt, 1), row("b", std::nullopt, 2), row("z", std::nullopt, 9)};
    CHECK(results(decide("{\"currentId\":\"a\",\"currentId\":\"b\"}", rows)) == Texts{"b"});
    CHECK(results(decide("{\"currentId\":\"a\",\"currentId\":5}", rows)) == Texts{"z"});
    CHECK(results(decide("{\"history\":{\"currentId\":\"a\"},\"history\":[]}", rows)) == Texts{"z"});
    // the last "a" names "b" as its parent, at the first "a"'s place
    CHECK(results(decide(msgs("\"a\":{\"timestamp\":9},\"b\":{\"timestamp\":5},\"a\":{\"parentId\":\"b\","
                              "\"timestamp\":1}"))) == Texts{"a"});
    CHECK(results(decide(msgs("\"a\":{\"timestamp\":1},\"b\":{\"timestamp\":5},\"a\":{\"timestamp\":5}"))) ==
          Texts{"a"});
}

TEST_CASE("blobs that are not objects count as empty") {
    for (std::optional<std::string> blob :
         {std::optional<std::string>(), std::optional<std::string>("null"),
          std::optional<std::string>("[{\"currentId\":\"a\"}]"), std::optional<std::string>("5"),
          std::optional<std::string>("\"x\""), std::optional<std::string>("\"{\\\"currentId\\\":\\\"a\\\"} junk\"")}) {
        CAPTURE(blob.value_or("NULL"));
        Decision d = decide(blob, {}, "keep");
        CHECK(d.path == Path::blob);
        CHECK(results(d).empty());
        CHECK_MESSAGE(!d.write("keep"), "nothing found: the value is kept");
    }
}

TEST_CASE("a double-encoded blob is read with Python's grammar") {
    CHECK(results(decide("\"{\\\"currentId\\\":\\\"a\\\",\\\"history\\\":{\\\"messages\\\":{\\\"a\\\":{},"
                         "\\\"b\\\":{\\\"timestamp\\\":2}}}}\"")) == Texts{"a"});
    // NaN is read; NaN > x is false, so the first key stays
    CHECK(results(decide("\"{\\\"history\\\":{\\\"messages\\\":{\\\"n\\\":{\\\"timestamp\\\":NaN},"
                         "\\\"m\\\":{\\\"timestamp\\\":9}}}}\"")) == Texts{"n"});
    // an integer of 4301 digits: json.loads raises, the blob counts as {}
    std::string inner =
        "{\\\"currentId\\\":\\\"a\\\",\\\"history\\\":{\\\"messages\\\":{\\\"a\\\":{\\\"timestamp\\\":" +
        std::string(4301, '9') + "}}}}";
    CHECK(results(decide("\"" + inner + "\"", {}, "k")).empty());
    inner.replace(inner.find(std::string(4301, '9')), 4301, std::string(4300, '9'));
    CHECK(results(decide("\"" + inner + "\"", {}, "k")) == Texts{"a"});
    CHECK_MESSAGE(results(decide("\"{\\\"currentId\\\":\\\"a\\u001fb\\\"}\"", {}, "k")).empty(),
                  "a control character inside a string: not JSON to Python");
    CHECK_MESSAGE(results(decide("\"{\\\"messages\\\":[{\\\"id\\\":\\\"a\\\",\\\"timestamp\\\":Inf}]}\"")).empty(),
                  "Inf is RapidJSON's word, not Python's");
    for (std::string tail : {"\\\\u12", "\\\\ud800", "\\\\ud800\\\\u", "\\\\ud800\\\\udc0"}) {
        CAPTURE(tail);
        CHECK_MESSAGE(results(decide("\"{\\\"a\\\":\\\"" + tail + "\"", {}, "k")).empty(),
                      "an inner document cut inside an escape is not JSON (and throws nothing)");
    }
}

TEST_CASE("path A: rows decide, created_at NULL is 0, any tied newest leaf is accepted") {
    CHECK(results(decide(msgs("\"a\":{\"timestamp\":1}", ",\"currentId\":\"gone\""),
                         {row("a", std::nullopt, 1), row("extra", "a", 7)})) == Texts{"extra"});
    CHECK(results(decide(std::nullopt, {row("a", std::nullopt, std::nullopt), row("b", std::nullopt, 0),
                                        row("d", std::nullopt, -5)})) == Texts{"a", "b"});
    Decision d = decide(std::nullopt, {row("a", std::nullopt, 1), row("b", "a", 5), row("d", "a", 5)});
    CHECK(results(d) == Texts{"b", "d"});
    CHECK_MESSAGE(d.result == "b", "the first tie in the rows' order is the one written");
    CHECK(results(decide(std::nullopt, {row("a", std::nullopt, 9), row("b", "c-a", 1)})) == Texts{"b"});
    CHECK(results(decide(std::nullopt, {row("s", std::nullopt, 1717999999), row("ms", std::nullopt, 1717000000000)})) ==
          Texts{"ms"});
}

TEST_CASE("cycles make every key a leaf, beside a chain only the chain's leaf counts") {
    CHECK(results(decide(std::nullopt, {row("a", "b", 3), row("b", "a", 7)})) == Texts{"b"});
    CHECK(results(decide(std::nullopt, {row("a", "b", 30), row("b", "a", 70), row("x", std::nullopt, 1),
                                        row("y", "x", 2)})) == Texts{"y"});
    CHECK(results(decide(msgs(
              "\"a\":{\"parentId\":\"b\",\"timestamp\":1},\"b\":{\"parentId\":\"a\",\"timestamp\":2}"))) == Texts{"b"});
}

TEST_CASE("a row whose id strips to empty is no key; only such rows mean path B") {
    Decision d = decide(msgs("\"k\":{\"timestamp\":1}"), {Row{"c-", std::nullopt, 99}});
    CHECK(d.path == Path::blob);
    CHECK(results(d) == Texts{"k"});
    CHECK(results(decide("{\"currentId\":\"plain\"}", {Row{"plain", std::nullopt, 1}, row("a", std::nullopt, 9)})) ==
          Texts{"plain"});
}

TEST_CASE("path B: list-form messages, their ids as PostgreSQL stores psycopg2's literal") {
    CHECK(results(decide("{\"messages\":[{\"id\":\"a\",\"timestamp\":1},{\"id\":\"b\",\"parentId\":\"a\","
                         "\"timestamp\":2},{\"id\":\"\",\"timestamp\":9},{\"id\":[]},\"x\"]}")) == Texts{"b"});
    CHECK(results(decide("{\"messages\":[{\"id\":1.50,\"timestamp\":1}]}")) == Texts{"1.5"});
    CHECK(results(decide("{\"messages\":[{\"id\":1E+2,\"timestamp\":1}]}")) == Texts{"100.0"});
    CHECK(results(decide("{\"messages\":[{\"id\":true,\"timestamp\":1}]}")) == Texts{"true"});
    CHECK(results(decide("{\"messages\":[{\"id\":1e400,\"timestamp\":1}]}")) == Texts{"Infinity"});
    // 1, 1.0 and true are one key, the first kept; the parentId 1.0 names it
    CHECK(results(decide("{\"messages\":[{\"id\":1,\"timestamp\":9},{\"id\":1.0,\"timestamp\":1},"
                         "{\"id\":\"x\",\"parentId\":1.0,\"timestamp\":2}]}")) == Texts{"x"});
    CHECK(results(decide("{\"currentId\":\"5\",\"messages\":[{\"id\":5,\"timestamp\":1},{\"id\":\"z\","
                         "\"timestamp\":2}]}")) == Texts{"z"});
    CHECK(results(decide("{\"history\":{\"messages\":{\"h\":{\"timestamp\":1}}},\"messages\":[{\"id\":\"a\","
                         "\"timestamp\":9}]}")) == Texts{"h"});
}

TEST_CASE("unhashable ids and parents make upstream raise: a reject, on either path") {
    const std::string blob = "{\"messages\":[{\"id\":\"a\"},{\"id\":[1]}]}";
    CHECK(decide(blob).reject.find("unhashable") != std::string::npos);
    Decision d = decide(blob, {row("a", std::nullopt, 1)}, "a");
    CHECK(d.path == Path::rows);
    CHECK(d.reject.find("unhashable") != std::string::npos);
    CHECK_MESSAGE(!d.write("a"), "a reject writes nothing");
    const std::string parent = msgs("\"a\":{\"timestamp\":1},\"b\":{\"parentId\":[],\"timestamp\":2}");
    CHECK(decide(parent).reject.find("unhashable") != std::string::npos);
    CHECK_MESSAGE(results(decide(parent.substr(0, parent.size() - 1) + ",\"currentId\":\"a\"}")) == Texts{"a"},
                  "a candidate decides: the leaves are never sought");
}

TEST_CASE("path B ties go to the first key in the JSON's order") {
    CHECK(results(decide(msgs("\"z\":{\"timestamp\":5},\"a\":{\"timestamp\":5},\"m\":{\"timestamp\":4}"))) ==
          Texts{"z"});
    CHECK(results(decide(msgs("\"a\":{\"timestamp\":true},\"b\":{\"timestamp\":1}"))) == Texts{"a"});
}

TEST_CASE("times compare as Python compares them") {
    CHECK(results(decide(msgs("\"s\":{\"timestamp\":1717999999},\"ms\":{\"timestamp\":1717000000000}"))) ==
          Texts{"ms"});
    CHECK(results(decide(msgs("\"a\":{\"timestamp\":\"10\"},\"b\":{\"timestamp\":\"9\"}"))) == Texts{"b"});
    CHECK(results(decide(msgs("\"a\":{\"timestamp\":1},\"b\":{\"timestamp\":1.5}"))) == Texts{"b"});
    CHECK_MESSAGE(
        results(decide(msgs("\"f\":{\"timestamp\":9007199254740992.0},\"i\":{\"timestamp\":9007199254740993}"))) ==
            Texts{"i"},
        "an int and a float compare exactly");
    CHECK(results(decide(msgs("\"f\":{\"timestamp\":1e20},\"i\":{\"timestamp\":100000000000000000000}"))) ==
          Texts{"f"});
    CHECK(results(decide(msgs("\"a\":{\"timestamp\":1e400},\"b\":{\"timestamp\":99999999999999999999}"))) ==
          Texts{"a"});
    CHECK(results(decide(msgs("\"a\":{\"timestamp\":[1,2]},\"b\":{\"timestamp\":[1,3]}"))) == Texts{"b"});
    for (std::string v : {"null", "false", "0", "0.0", "\"\"", "[]", "{}"}) {
        CAPTURE(v);
        CHECK_MESSAGE(results(decide(msgs("\"a\":{\"timestamp\":" + v + "},\"b\":{\"timestamp\":-1}"))) == Texts{"a"},
                      "a falsy time counts as 0");
    }
}

TEST_CASE("a mix of strings and numbers among compared times rejects the chat") {
    Decision d = decide(msgs("\"a\":{\"timestamp\":\"1717000000\"},\"b\":{\"timestamp\":1717000001}"), {}, "old");
    CHECK(d.reject.find("not supported") != std::string::npos);
    CHECK_MESSAGE(!d.write("old"), "a reject leaves the value");
    CHECK(decide(msgs("\"a\":{\"timestamp\":[1]},\"b\":{\"timestamp\":2}")).reject != "");
    CHECK(decide(msgs("\"a\":{\"timestamp\":{\"x\":1}},\"b\":{\"timestamp\":{\"y\":1}}")).reject != "");
    CHECK_MESSAGE(
        results(decide(msgs("\"a\":{\"timestamp\":\"x\"},\"b\":{\"parentId\":\"a\",\"timestamp\":5}"))) == Texts{"b"},
        "a string on a parent is never compared");
}

TEST_CASE("results and candidates psycopg2 cannot send reject the chat") {
    CHECK(decide("{\"currentId\":\"x\\u0000y\"}", {row("a", std::nullopt, 1)}).reject.find("NUL") != std::string::npos);
    CHECK(decide("{\"branchPointMessageId\":\"\\ud800\"}", {row("a", std::nullopt, 1)}).reject.find("surrogate") !=
          std::string::npos);
    CHECK(decide(msgs("\"\\udc00\":{\"timestamp\":1}")).reject.find("surrogate") != std::string::npos);
    CHECK(results(decide(msgs("\"\\ud800\":{\"timestamp\":1},\"ok\":{\"timestamp\":2}"))) == Texts{"ok"});
}

TEST_CASE("the empty key and the prefix-only candidate") {
    Decision d = decide(msgs("\"\":{\"timestamp\":9},\"a\":{\"timestamp\":1}"), {}, "keep");
    CHECK(results(d) == Texts{""});
    CHECK_MESSAGE(!d.write("keep"), "an empty result is never written");
    CHECK(results(decide("{\"currentId\":\"c-\",\"branchPointMessageId\":\"a\",\"history\":{\"messages\":"
                         "{\"\":{\"timestamp\":1},\"a\":{\"timestamp\":2},\"b\":{\"timestamp\":5}}}}")) == Texts{"b"});
    CHECK(results(decide("{\"currentId\":\"c-\",\"branchPointMessageId\":\"a\"}",
                         {row("a", std::nullopt, 1), row("b", "a", 2)})) == Texts{"a"});
}

TEST_CASE("a different result is written; nothing found keeps NULL") {
    Decision d = decide(msgs("\"a\":{\"timestamp\":1}"), {}, "z");
    REQUIRE(d.write("z"));
    CHECK(*d.write("z") == "a");
    CHECK(!decide("{}").write(std::nullopt));
}

TEST_CASE("what the fast walk declines is read by RapidJSON, with the same answer") {
    // a kept string holding an escape: the walk does not decode, RapidJSON does
    CHECK(results(decide(msgs("\"ab\":{},\"zz\":{}", ",\"currentId\":\"a\\u0062\""))) == Texts{"ab"});
    CHECK(results(decide("{\"messages\":[{\"id\":\"x\\/y\",\"timestamp\":1}]}")) == Texts{"x/y"});
    // a lone surrogate escape in a kept id: read, then refused as psycopg2 refuses it
    CHECK(decide("{\"messages\":[{\"id\":\"\\ud800\",\"timestamp\":1}]}").reject == "result: lone UTF-16 surrogate");
    // an escaped key: decoded, so it names currentId
    CHECK(results(decide(msgs("\"a\":{},\"b\":{}", ",\"curr\\u0065ntId\":\"a\""))) == Texts{"a"});
    // escapes and lone surrogates in skipped strings change nothing
    CHECK(results(decide(msgs("\"a\":{\"content\":\"\\ud800 \\\" \\n\"},\"b\":{\"timestamp\":1}"))) == Texts{"b"});
    // inside a double-encoded blob, an integer json.loads refuses, even in a member the rule skips
    const std::string digits(4301, '7');
    CHECK(results(decide("\"{\\\"currentId\\\":\\\"a\\\",\\\"x\\\":" + digits +
                             ",\\\"history\\\":{\\\"messages\\\":{\\\"a\\\":{}}}}\"",
                         {}, "k"))
              .empty());
    CHECK(results(decide("\"{\\\"currentId\\\":\\\"a\\\",\\\"x\\\":-" + digits.substr(1) +
                         ",\\\"history\\\":{\\\"messages\\\":{\\\"a\\\":{}}}}\"")) == Texts{"a"});
}
