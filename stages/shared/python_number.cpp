// float() accepts any Unicode decimal digit and strips any Unicode space: CPython first maps
// them to ASCII (_PyUnicode_TransformDecimalAndSpaceToASCII). The tables below come from
// Python 3.11's unicodedata (Unicode 14.0). Numbers in text columns and in `done` are rare:
// nothing here runs for the strings and booleans that fill those fields.
#include "stages/shared/python_number.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <iterator>
#include <string>

#include "engine/utf8.h"

namespace sluice::stages {

namespace {

// Each Unicode decimal digit block: ten code points, zero first (beyond ASCII).
constexpr std::uint32_t kDigitZeros[] = {
    0x660,   0x6F0,   0x7C0,   0x966,   0x9E6,   0xA66,   0xAE6,   0xB66,   0xBE6,   0xC66,   0xCE6,
    0xD66,   0xDE6,   0xE50,   0xED0,   0xF20,   0x1040,  0x1090,  0x17E0,  0x1810,  0x1946,  0x19D0,
    0x1A80,  0x1A90,  0x1B50,  0x1BB0,  0x1C40,  0x1C50,  0xA620,  0xA8D0,  0xA900,  0xA9D0,  0xA9F0,
    0xAA50,  0xABF0,  0xFF10,  0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450,
    0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0,
    0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0};
// Unicode white space beyond ASCII (str.isspace()).
constexpr std::uint32_t kSpaces[] = {0x85,   0xA0,   0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006,
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

bool ascii_space(char c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1C && c <= 0x1F);
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Python's float() grammar after the mapping: optional sign, digits with single underscores
// between them, optional fraction and exponent. Writes the underscore-free text to `clean`.
bool float_syntax(std::string_view s, std::string& clean) {
    clean.clear();
    std::size_t i = 0;
    auto digits = [&] {
        std::size_t start = i;
        while (i < s.size() &&
               (is_digit(s[i]) || (s[i] == '_' && i > start && i + 1 < s.size() && is_digit(s[i + 1])))) {
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

// json.loads makes a number without '.' or exponent an int, anything else a float.
bool is_integer_literal(std::string_view number) {
    return number.find_first_of(".eE") == std::string_view::npos;
}

// float(number) for a JSON number: glibc's strtod rounds correctly, as Python does; overflow
// gives ±inf and underflow ±0.0, as float("1e400") and float("1e-400") do.
double python_float(std::string_view number) {
    std::string copy(number);  // strtod needs a terminator
    return std::strtod(copy.c_str(), nullptr);
}

// Appends the text PostgreSQL's numeric gives the literal repr(d) (d finite, not zero).
// repr uses the shortest digits that read back as d (std::to_chars gives the same ones), in
// fixed form ("100.0", "0.0001") when the decimal exponent lies in [-4, 16), else in exponent
// form ("1e+20", "1.5e-07"). numeric_in keeps the literal's display scale, max(0, fractional
// digits - exponent), so numeric_out prints the fixed form unchanged and the exponent form as
// plain digits: "1e+20" → "100000000000000000000", "1.5e-07" → "0.00000015". Below 1 both
// forms print "0." then zeros then the digits.
void append_numeric_text_of_repr(double d, std::string& out) {
    char buf[32];
    auto written = std::to_chars(buf, buf + sizeof buf, std::fabs(d), std::chars_format::scientific).ptr;
    std::string_view sci(buf, static_cast<std::size_t>(written - buf));  // "d[.ddd]e±XX"
    std::size_t e_at = sci.find('e');
    std::string digits(1, sci[0]);
    if (e_at > 1) digits.append(sci.substr(2, e_at - 2));
    int exp = 0;
    std::from_chars(sci.data() + e_at + 2, sci.data() + sci.size(), exp);
    if (sci[e_at + 1] == '-') exp = -exp;
    const int n = static_cast<int>(digits.size());
    if (d < 0) out.push_back('-');
    if (exp < 0) {
        out += "0.";
        out.append(static_cast<std::size_t>(-exp - 1), '0');
        out += digits;
    } else if (exp < 16) {  // repr's fixed form, whose integers end in ".0"
        if (n <= exp + 1) {
            out += digits;
            out.append(static_cast<std::size_t>(exp + 1 - n), '0');
            out += ".0";
        } else {
            out.append(digits, 0, static_cast<std::size_t>(exp + 1));
            out.push_back('.');
            out.append(digits, static_cast<std::size_t>(exp + 1));
        }
    } else {  // exponent form with scale 0: at most 17 digits, so exp >= n - 1
        out += digits;
        out.append(static_cast<std::size_t>(exp - (n - 1)), '0');
    }
}

// An integer literal of at most 15 digits is exact as a double: int(float(t)) is t itself.
std::optional<std::int64_t> small_integer(std::string_view t) {
    const bool negative = !t.empty() && t[0] == '-';
    const std::string_view digits = t.substr(negative ? 1 : 0);
    if (digits.empty() || digits.size() > 15) return std::nullopt;
    std::int64_t v = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + (c - '0');
    }
    return negative ? -v : v;
}

}  // namespace

std::string_view python_number_text(std::string_view number, std::string& storage) {
    if (is_integer_literal(number)) return number == "-0" ? std::string_view("0") : number;
    double d = python_float(number);
    // psycopg2 sends an infinite float as 'Infinity'::float, which float8 prints back as it is.
    if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
    // numeric has no negative zero: psycopg2's " -0.0" (it puts a space before any negative
    // number) is stored as "0.0".
    if (d == 0) return "0.0";
    storage.clear();
    append_numeric_text_of_repr(d, storage);
    return storage;
}

std::optional<bool> python_number_as_bool(std::string_view number) {
    // SQLAlchemy's Boolean checks `value in frozenset([None, True, False])`: by Python's
    // equality 1 and 1.0 are True, 0, -0 and 0.0 are False. It then binds bool(value).
    if (is_integer_literal(number)) {
        if (number == "0" || number == "-0") return false;
        if (number == "1") return true;
        return std::nullopt;
    }
    double d = python_float(number);
    if (d == 0) return false;
    if (d == 1) return true;
    return std::nullopt;
}

std::optional<std::int64_t> python_int_of_float(std::string_view text, bool is_string) {
    if (!is_string) {
        if (std::optional<std::int64_t> v = small_integer(text)) return v;  // the common timestamp
    }
    std::string clean;
    if (is_string) {
        std::string ascii;
        if (!to_ascii(text, ascii)) return std::nullopt;
        std::string_view s = ascii;
        while (!s.empty() && ascii_space(s.front()))
            s.remove_prefix(1);
        while (!s.empty() && ascii_space(s.back()))
            s.remove_suffix(1);
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
