// JSON compared by meaning, as verify uses it for rows upstream's Python migration wrote.
#include <doctest/doctest.h>

#include "stages/chat_message/json_meaning.h"

using sluice::stages::same_json_meaning;

TEST_CASE("whitespace and escapes do not change a JSON value's meaning") {
    CHECK(same_json_meaning(R"({"a": [1, 2], "b": "\u00e9"})", "{\"a\":[1,2],\"b\":\"\xC3\xA9\"}"));
    CHECK(same_json_meaning(R"("\ud83d\ude00")", "\"\xF0\x9F\x98\x80\""));
    CHECK(same_json_meaning("1E+2", "100.0"));
}

TEST_CASE("key order, values and types do change it") {
    CHECK_FALSE(same_json_meaning(R"({"a":1,"b":2})", R"({"b":2,"a":1})"));
    CHECK_FALSE(same_json_meaning(R"({"a":1})", R"({"a":2})"));
    CHECK_FALSE(same_json_meaning("1", R"("1")"));
    CHECK_FALSE(same_json_meaning("[1,2]", "[1,2,3]"));
}

TEST_CASE("a repeated key counts once, with its last value at its first place") {
    CHECK(same_json_meaning(R"({"a":1,"b":2,"a":3})", R"({"a":3,"b":2})"));
    CHECK_FALSE(same_json_meaning(R"({"a":1,"b":2,"a":3})", R"({"b":2,"a":3})"));
}

TEST_CASE("lone surrogate escapes compare as themselves, and text that is not JSON never matches") {
    CHECK(same_json_meaning(R"(["\ud800"])", R"([ "\uD800" ])"));
    CHECK_FALSE(same_json_meaning(R"("\ud800")", R"("\udc00")"));
    CHECK_FALSE(same_json_meaning("{",
                                  "{"
                                  "}"));
    CHECK_FALSE(same_json_meaning("nope", "nope "));
}
