// UTF-8 validation by the table of RFC 3629 §4 (no surrogates, no overlongs, nothing past U+10FFFF).
#include "engine/utf8.h"

#include <cstdint>
#include <cstring>

namespace sluice::engine {

namespace {
bool continuation(unsigned char c) {
    return (c & 0xC0) == 0x80;
}
}  // namespace

std::size_t utf8_sequence_length(std::string_view s) {
    if (s.empty()) return 0;
    auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    unsigned char c = b(0);
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0;  // continuation byte or overlong 2-byte lead
    if (c < 0xE0) return s.size() >= 2 && continuation(b(1)) ? 2 : 0;
    if (c < 0xF0) {
        if (s.size() < 3 || !continuation(b(1)) || !continuation(b(2))) return 0;
        if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
        if (c == 0xED && b(1) >= 0xA0) return 0;  // UTF-16 surrogate
        return 3;
    }
    if (c < 0xF5) {
        if (s.size() < 4 || !continuation(b(1)) || !continuation(b(2)) || !continuation(b(3))) return 0;
        if (c == 0xF0 && b(1) < 0x90) return 0;   // overlong
        if (c == 0xF4 && b(1) >= 0x90) return 0;  // beyond U+10FFFF
        return 4;
    }
    return 0;
}

bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        if (static_cast<unsigned char>(s[i]) < 0x80) {  // the common case, kept cheap
            ++i;
            continue;
        }
        std::size_t n = utf8_sequence_length(s.substr(i));
        if (n == 0) return false;
        i += n;
    }
    return true;
}

bool storable_as_text(std::string_view s) {
    std::size_t i = 0;
    // Eight bytes at a time while they are ASCII without NUL (ids, roles, models): the common case.
    constexpr std::uint64_t kOnes = 0x0101010101010101u, kHighs = 0x8080808080808080u;
    for (std::uint64_t w; i + 8 <= s.size(); i += 8) {
        std::memcpy(&w, s.data() + i, 8);
        if (((w - kOnes) | w) & kHighs) break;  // a byte that is 0 or at least 0x80
    }
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x01 && c < 0x80) {  // the common case, kept cheap
            ++i;
            continue;
        }
        if (c == 0) return false;
        std::size_t n = utf8_sequence_length(s.substr(i));
        if (n == 0) return false;
        i += n;
    }
    return true;
}

void append_json_escaping_invalid_utf8(std::string& out, std::string_view json) {
    static const char kHex[] = "0123456789abcdef";
    std::size_t i = 0;
    while (i < json.size()) {
        std::size_t n = static_cast<unsigned char>(json[i]) < 0x80 ? 1 : utf8_sequence_length(json.substr(i));
        if (n > 0) {
            out.append(json.data() + i, n);
            i += n;
            continue;
        }
        auto byte = static_cast<unsigned char>(json[i++]);  // 0x80..0xFF: ASCII is always valid
        out += "\\u00";
        out.push_back(kHex[byte >> 4]);
        out.push_back(kHex[byte & 0x0F]);
    }
}

}  // namespace sluice::engine
