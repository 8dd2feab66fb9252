// JSON string and number literals as Python reads them: the small text helpers the scan and the
// transform share.
#include "stages/shared/json_literal.h"

#include <cstdlib>

namespace sluice::stages::scan {

namespace {

void append_utf8(std::string& out, unsigned code) {
    if (code < 0x80) {
        out.push_back(static_cast<char>(code));
    } else if (code < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (code >> 6)));
        out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (code >> 12)));
        out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (code >> 18)));
        out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
}

}  // namespace

bool hex4(std::string_view s, std::size_t at, unsigned& code) {
    if (at + 4 > s.size()) return false;
    code = 0;
    for (std::size_t i = at; i < at + 4; ++i) {
        char c = s[i];
        unsigned d = (c >= '0' && c <= '9')   ? unsigned(c - '0')
                     : (c >= 'a' && c <= 'f') ? unsigned(c - 'a' + 10)
                     : (c >= 'A' && c <= 'F') ? unsigned(c - 'A' + 10)
                                              : 16u;
        if (d == 16) return false;
        code = code * 16 + d;
    }
    return true;
}

bool is_high_surrogate(unsigned c) {
    return c >= 0xD800 && c <= 0xDBFF;
}
bool is_low_surrogate(unsigned c) {
    return c >= 0xDC00 && c <= 0xDFFF;
}

bool number_is_truthy(std::string_view number) {
    if (number.find_first_of(".eE") == std::string_view::npos) {
        return number.find_first_not_of("-0") != std::string_view::npos;
    }
    std::string copy(number);  // strtod needs a terminator; "1e-400" underflows to 0.0 as in Python
    return std::strtod(copy.c_str(), nullptr) != 0.0;
}

bool decode_string_literal(std::string_view lit, std::string& out, LoneSurrogate lone) {
    out.clear();
    out.reserve(lit.size() + kSimdSlack);  // the result may be parsed in turn
    if (lit.size() < 2 || lit.front() != '"' || lit.back() != '"') return false;
    for (std::size_t i = 1; i + 1 < lit.size(); ++i) {
        char c = lit[i];
        if (c != '\\') {
            out.push_back(c);
            continue;
        }
        if (i + 2 >= lit.size()) return false;
        char e = lit[++i];
        switch (e) {
            case '"':
            case '\\':
            case '/':
                out.push_back(e);
                break;
            case 'b':
                out.push_back('\b');
                break;
            case 'f':
                out.push_back('\f');
                break;
            case 'n':
                out.push_back('\n');
                break;
            case 'r':
                out.push_back('\r');
                break;
            case 't':
                out.push_back('\t');
                break;
            case 'u': {
                unsigned code = 0, low = 0;
                if (!hex4(lit, i + 1, code)) return false;
                if (is_high_surrogate(code) && lit.compare(i + 5, 2, "\\u") == 0 && hex4(lit, i + 7, low) &&
                    is_low_surrogate(low)) {
                    append_utf8(out, 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00));
                    i += 10;
                } else if ((is_high_surrogate(code) || is_low_surrogate(code)) && lone == LoneSurrogate::keep_escape) {
                    out.append(lit.substr(i - 1, 6));
                    i += 4;
                } else {
                    append_utf8(out, code);
                    i += 4;
                }
                break;
            }
            default:
                return false;
        }
    }
    return true;
}

std::string_view string_text(std::string_view literal, std::string& storage) {
    std::string_view body = literal.substr(1, literal.size() - 2);
    if (body.find('\\') == std::string_view::npos) return body;
    decode_string_literal(literal, storage, LoneSurrogate::generalized_utf8);
    return storage;
}

}  // namespace sluice::stages::scan
