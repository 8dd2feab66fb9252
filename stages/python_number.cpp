// float() accepts any Unicode decimal digit and strips any Unicode space: CPython first maps
// them to ASCII (_PyUnicode_TransformDecimalAndSpaceToASCII). The tables below come from
// Python 3.11's unicodedata (Unicode 14.0).
#include "stages/python_number.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iterator>
#include <string>

#include "engine/utf8.h"

namespace sluice::stages {

namespace {

// Each Unicode decimal digit block: ten code points, zero first (beyond ASCII).
constexpr std::uint32_t kDigitZeros[] = {
    0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66, 0xDE6, 0xE50,
    0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50, 0x1BB0, 0x1C40,
    0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10, 0x104A0, 0x10D30, 0x11066,
    0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0, 0x11950,
    0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6,
    0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0};
// Unicode white space beyond ASCII (str.isspace()).
constexpr std::uint32_t kSpaces[] = {0x85, 0xA0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006,
                                     0x2007, 0x2008, 0x2009, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000};

std::uint32_t decode_utf8(std::string_view s, std::size_t n) {
    auto b = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[i])); };
    if (n == 2) return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
    if (n == 3) return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
}

// Maps non-ASCII digits and spaces to ASCII, as CPython does before parsing. False when some
// other non-ASCII character is there (float() rejects it).
bool to_ascii(std::string_view s, std::string& out) {
    out.clear();
    for (std::size_t i = 0; i < s.size();) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            out.push_back(static_cast<char>(c));
            ++i;
            continue;
        }
        std::size_t n = engine::utf8_sequence_length(s.substr(i));
        if (n == 0) return false;
        std::uint32_t cp = decode_utf8(s.substr(i), n);
        i += n;
        if (std::find(std::begin(kSpaces), std::end(kSpaces), cp) != std::end(kSpaces)) {
            out.push_back(' ');
            continue;
        }
        auto zero = std::upper_bound(std::begin(kDigitZeros), std::end(kDigitZeros), cp);
        if (zero == std::begin(kDigitZeros) || cp - *(zero - 1) > 9) return false;
        out.push_back(static_cast<char>('0' + (cp - *(zero - 1))));
    }
    return true;
}

bool ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1C && c <= 0x1F); }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Python's float() grammar after the mapping: optional sign, digits with single underscores
// between them, optional fraction and exponent. Writes the underscore-free text to `clean`.
bool float_syntax(std::string_view s, std::string& clean) {
    clean.clear();
    std::size_t i = 0;
    auto digits = [&] {
        std::size_t start = i;
        while (i < s.size() && (is_digit(s[i]) || (s[i] == '_' && i > start && i + 1 < s.size() && is_digit(s[i + 1])))) {
            if (s[i] != '_') clean.push_back(s[i]);
            ++i;
        }
        return i > start;
    };
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) clean.push_back(s[i++]);
    bool int_part = digits();
    if (i < s.size() && s[i] == '.') {
        clean.push_back(s[i++]);
        if (!digits() && !int_part) return false;
    } else if (!int_part) {
        return false;
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        clean.push_back(s[i++]);
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) clean.push_back(s[i++]);
        if (!digits()) return false;
    }
    return i == s.size();
}

}  // namespace

std::optional<std::int64_t> python_int_of_float(std::string_view text, bool is_string) {
    std::string clean;
    if (is_string) {
        std::string ascii;
        if (!to_ascii(text, ascii)) return std::nullopt;
        std::string_view s = ascii;
        while (!s.empty() && ascii_space(s.front())) s.remove_prefix(1);
        while (!s.empty() && ascii_space(s.back())) s.remove_suffix(1);
        if (!float_syntax(s, clean)) return std::nullopt;
    } else {
        clean.assign(text);
    }
    char* end = nullptr;
    double d = std::strtod(clean.c_str(), &end);
    if (end != clean.c_str() + clean.size() || !std::isfinite(d)) return std::nullopt;
    d = std::trunc(d);
    if (std::fabs(d) >= 9.2e18) return std::nullopt;  // far outside any valid timestamp
    return static_cast<std::int64_t>(d);
}

}  // namespace sluice::stages
