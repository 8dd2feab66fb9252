// The binary COPY tuple encoding and its JSON rendering for the reject file.
#include <doctest/doctest.h>

#include <cstring>

#include "engine/copy_binary.h"
#include "engine/utf8.h"

using namespace sluice::engine;

TEST_CASE("a tuple decodes back into the fields it was encoded from") {
    std::string buf;
    TupleEncoder row(buf);
    row.begin_row(4);
    row.bytes(std::string_view("text\0x", 6));
    row.null();
    row.boolean(false);
    row.int8(-2);
    auto fields = decode_tuple(buf);
    REQUIRE(fields.size() == 4);
    CHECK(fields[0].bytes == std::string_view("text\0x", 6));
    CHECK(fields[1].is_null);
    CHECK(fields[2].bytes == std::string_view("\0", 1));
    CHECK(fields[3].bytes == std::string_view("\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFE", 8));
}

TEST_CASE("a row of known size encodes exactly as one appended field by field") {
    std::string appended, sized = "before";
    auto fill = [](TupleEncoder& row) {
        std::memcpy(row.reserve(3), "a-b", 3);
        row.bytes("json");
        row.null();
        row.boolean(true);
        row.int8(1717000000);
        row.bytes("");
    };
    TupleEncoder a(appended), b(sized);
    a.begin_row(6);
    fill(a);
    b.begin_row(6, 3 + 4 + 0 + 1 + 8 + 0);
    fill(b);
    CHECK_MESSAGE(sized == "before" + appended, "a sized row differs from the same row appended");
}

TEST_CASE("a tuple renders as a JSON object with text escaped and JSON kept") {
    std::string buf;
    TupleEncoder row(buf);
    row.begin_row(4);
    row.bytes("a\"b\n");
    row.bytes("{\"k\": [1]}");
    row.boolean(true);
    row.int8(1717000000);
    std::vector<Column> cols = {
        {"t", ColumnKind::text}, {"j", ColumnKind::json}, {"b", ColumnKind::boolean}, {"n", ColumnKind::int8}};
    CHECK(tuple_to_json(buf, cols) == R"({"t":"a\"b\u000a","j":{"k": [1]},"b":true,"n":1717000000})");
}

TEST_CASE("text that is not valid UTF-8 still renders as valid JSON, surrogates as their escapes") {
    std::string out;
    append_json_string(out, std::string("a\xED\xA0\x80"
                                        "b\xFF",
                                        6));
    CHECK(out == R"("a\ud800b\u00ff")");
}

TEST_CASE("text storable in PostgreSQL is valid UTF-8 without NUL") {
    CHECK(storable_as_text("plain"));
    CHECK(storable_as_text("\xC3\xA9\xF0\x9F\x98\x80"));
    CHECK_FALSE(storable_as_text(std::string_view("a\0b", 3)));
    CHECK_FALSE(storable_as_text("\xED\xA0\x80"));      // a surrogate
    CHECK_FALSE(storable_as_text("\xC0\xAF"));          // overlong
    CHECK_FALSE(storable_as_text("\xF4\x90\x80\x80"));  // past U+10FFFF
    CHECK_FALSE(storable_as_text("\xE2\x82"));          // truncated
}
