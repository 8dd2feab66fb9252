// Binary COPY framing, tuple decoding and the JSON rendering of a tuple for the reject file.
#include "engine/copy_binary.h"

#include <algorithm>
#include <stdexcept>

#include "engine/utf8.h"

namespace sluice::engine {

namespace {

constexpr char kHeader[] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";  // signature, flags 0, extension 0
constexpr char kTrailer[] = "\377\377";                           // field count -1

std::uint32_t be32(const char* p) {
    auto u = [&](int i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(p[i])); };
    return (u(0) << 24) | (u(1) << 16) | (u(2) << 8) | u(3);
}

const char kHex[] = "0123456789abcdef";

void append_u_escape(std::string& out, unsigned code) {
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4)
        out.push_back(kHex[(code >> shift) & 0xF]);
}

}  // namespace

std::string_view copy_binary_header() {
    return {kHeader, 19};
}
std::string_view copy_binary_trailer() {
    return {kTrailer, 2};
}

std::vector<Field> decode_tuple(std::string_view tuple, std::size_t most) {
    if (tuple.size() < 2) throw std::logic_error("decode_tuple: truncated tuple");
    auto count =
        static_cast<std::uint16_t>((static_cast<unsigned char>(tuple[0]) << 8) | static_cast<unsigned char>(tuple[1]));
    std::vector<Field> fields(std::min<std::size_t>(count, most));
    std::size_t at = 2;
    for (auto& field : fields) {
        if (at + 4 > tuple.size()) throw std::logic_error("decode_tuple: truncated field length");
        std::uint32_t length = be32(tuple.data() + at);
        at += 4;
        if (length == 0xFFFFFFFFu) continue;
        if (at + length > tuple.size()) throw std::logic_error("decode_tuple: truncated field");
        field.is_null = false;
        field.bytes = tuple.substr(at, length);
        at += length;
    }
    return fields;
}

void append_json_string(std::string& out, std::string_view text) {
    out.push_back('"');
    std::size_t i = 0;
    while (i < text.size()) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(static_cast<char>(c));
        } else if (c < 0x20) {
            append_u_escape(out, c);
        } else if (c < 0x80) {
            out.push_back(static_cast<char>(c));
        } else if (std::size_t n = utf8_sequence_length(text.substr(i)); n > 0) {
            out.append(text.data() + i, n);
            i += n;
            continue;
        } else if (c == 0xED && i + 2 < text.size()) {
            // A lone UTF-16 surrogate that a JSON escape put into the text: give the escape back.
            unsigned code = ((c & 0x0Fu) << 12) | ((static_cast<unsigned char>(text[i + 1]) & 0x3Fu) << 6) |
                            (static_cast<unsigned char>(text[i + 2]) & 0x3Fu);
            append_u_escape(out, code);
            i += 3;
            continue;
        } else {
            append_u_escape(out, c);  // a stray byte: keep it visible rather than drop it
        }
        ++i;
    }
    out.push_back('"');
}

std::string tuple_to_json(std::string_view tuple, const std::vector<Column>& columns) {
    std::vector<Field> fields = decode_tuple(tuple);
    std::string out = "{";
    for (std::size_t i = 0; i < fields.size() && i < columns.size(); ++i) {
        if (i > 0) out.push_back(',');
        append_json_string(out, columns[i].name);
        out.push_back(':');
        const Field& f = fields[i];
        if (f.is_null) {
            out += "null";
            continue;
        }
        switch (columns[i].kind) {
            case ColumnKind::text:
                append_json_string(out, f.bytes);
                break;
            case ColumnKind::json:
                out.append(f.bytes);
                break;
            case ColumnKind::boolean:
                out += (!f.bytes.empty() && f.bytes[0]) ? "true" : "false";
                break;
            case ColumnKind::int8: {
                std::uint64_t v = 0;
                for (char b : f.bytes)
                    v = (v << 8) | static_cast<unsigned char>(b);
                out += std::to_string(static_cast<std::int64_t>(v));
                break;
            }
        }
    }
    out.push_back('}');
    return out;
}

}  // namespace sluice::engine
