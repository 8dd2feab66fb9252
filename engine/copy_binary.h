// PostgreSQL's binary COPY format: the writer's wire encoding. Rows are appended as tuples to a
// batch buffer with no per-byte escaping (JSON and text go out as they are), and any range of
// rows can be framed by header and trailer and sent again, which is what row isolation needs.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::engine {

// The column kinds a tuple can hold; enough to render a rejected row back as JSON.
enum class ColumnKind : std::uint8_t { text, json, boolean, int8 };

struct Column {
    std::string name;
    ColumnKind kind;
};

// Appends binary COPY tuples to a string. Not thread-safe; one per batch under construction.
// A row is written field by field after begin_row(fields), each appended; or, when the caller
// knows its size, after begin_row(fields, payload): the string grows once and each field is
// written in place (the transform's hot loop: appending cost it a tenth of its time).
class TupleEncoder {
public:
    explicit TupleEncoder(std::string& out) : out_(out) {}

    void begin_row(std::uint16_t fields) {
        at_ = nullptr;
        put_be16(fields);
    }
    // `payload`: the bytes of the row's values in all (a null counts 0, a boolean 1, an int8 8).
    // The field calls that follow must fill exactly that.
    void begin_row(std::uint16_t fields, std::size_t payload) {
        const std::size_t start = out_.size();
        out_.resize(start + 2 + 4 * std::size_t{fields} + payload);
        at_ = &out_[start];
        put_be16(fields);
    }
    void null() { put_be32(0xFFFFFFFFu); }
    void bytes(std::string_view value) {
        put_be32(static_cast<std::uint32_t>(value.size()));
        put(value.data(), value.size());
    }
    // A field whose value the caller keeps elsewhere (Rows::outside): only its length is written;
    // returns the offset in the buffer where the value belongs.
    std::size_t length_only(std::size_t length) {
        put_be32(static_cast<std::uint32_t>(length));
        return at_ ? static_cast<std::size_t>(at_ - out_.data()) : out_.size();
    }
    // Field with the given length whose bytes the caller fills in at the returned position.
    char* reserve(std::size_t length) {
        put_be32(static_cast<std::uint32_t>(length));
        if (at_) {
            char* field = at_;
            at_ += length;
            return field;
        }
        std::size_t at = out_.size();
        out_.resize(at + length);
        return &out_[at];
    }
    void boolean(bool value) {
        put_be32(1);
        const char b = value ? '\1' : '\0';
        put(&b, 1);
    }
    void int8(std::int64_t value) {
        put_be32(8);
        auto v = static_cast<std::uint64_t>(value);
        char b[8];
        for (int i = 7; i >= 0; --i, v >>= 8)
            b[i] = static_cast<char>(v & 0xFF);
        put(b, 8);
    }

private:
    void put(const char* data, std::size_t n) {
        if (!at_) {
            out_.append(data, n);
            return;
        }
        std::memcpy(at_, data, n);
        at_ += n;
    }
    void put_be16(std::uint16_t v) {
        char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v & 0xFF)};
        put(b, 2);
    }
    void put_be32(std::uint32_t v) {
        char b[4] = {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xFF),
                     static_cast<char>((v >> 8) & 0xFF), static_cast<char>(v & 0xFF)};
        put(b, 4);
    }
    std::string& out_;
    char* at_ = nullptr;  // where the next field goes in a row of known size; null: appending
};

// The 19-byte signature and flags that open a binary COPY stream, and the 2-byte trailer.
std::string_view copy_binary_header();
std::string_view copy_binary_trailer();

// One decoded field of a tuple: null, or a view of its bytes inside the batch buffer.
struct Field {
    bool is_null = true;
    std::string_view bytes;
};

// Splits one tuple (starting at `tuple`) into its fields. The tuple must be one this encoder wrote.
// With `most`, only that many leading fields, which `tuple` may then end after (Rows::head).
std::vector<Field> decode_tuple(std::string_view tuple, std::size_t most = SIZE_MAX);

// Renders a tuple as a JSON object {"column": value, ...}: text as JSON strings (invalid UTF-8
// and control bytes escaped), json columns as they are (they are JSON text), booleans and int8.
std::string tuple_to_json(std::string_view tuple, const std::vector<Column>& columns);

// Appends `text` to `out` as a JSON string literal. Bytes that are not valid UTF-8 are written as
// \u00XX escapes of each byte so the output is always valid JSON and nothing is dropped.
void append_json_string(std::string& out, std::string_view text);

}  // namespace sluice::engine
