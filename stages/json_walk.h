// A fast walk over JSON text for the chat scan (stages/chat_scan.cpp): it checks the grammar and
// calls a RapidJSON SAX handler as RapidJSON's iterative reader with kParseNumbersAsStringsFlag
// does, in the same order and with the stream's Tell() where RapidJSON has it at each call, but
// copies and decodes nothing: string bodies are skipped 16 bytes at a time. RapidJSON copies every
// string onto its stack first, which made it three quarters of sluice's CPU per message.
//
// It reads text the way RapidJSON does after chat_scan's disarm() (any \uXXXX escape and any
// well-formed number of any size are accepted), and declines, returning false part way through,
// whenever it is not sure of that: a control character or NUL byte, a key holding an escape (the
// handler compares keys decoded), anything that is not JSON. The caller then resets what the
// handler recorded and reads the document with RapidJSON, which decides and words any error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sluice::stages::json_walk {

// The position a handler reads through Tell(), as it reads RapidJSON's stream's.
struct Position {
    std::size_t at = 0;
    std::size_t Tell() const { return at; }
};

namespace detail {

inline bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// The first byte at or after `i` that is '"', '\\' or a control character (below 0x20), or `n`.
inline std::size_t next_special(const char* p, std::size_t i, std::size_t n) {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), control = _mm_set1_epi8(0x1F);
    for (; i + 16 <= n; i += 16) {  // unaligned loads inside the text only: no read past its end
        const __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
        const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(s, quote), _mm_cmpeq_epi8(s, backslash)),
                                         _mm_cmpeq_epi8(_mm_max_epu8(s, control), control));
        if (const int mask = _mm_movemask_epi8(hit)) return i + static_cast<std::size_t>(__builtin_ctz(mask));
    }
#endif
    for (; i < n; ++i) {
        const auto c = static_cast<unsigned char>(p[i]);
        if (c == '"' || c == '\\' || c < 0x20) return i;
    }
    return n;
}

// The end of the string literal opening at `i` (one past its closing quote), or 0 when it is not
// one the walk vouches for. `escaped` tells whether its body holds an escape.
inline std::size_t string_end(const char* p, std::size_t i, std::size_t n, bool& escaped) {
    escaped = false;
    for (std::size_t at = i + 1;;) {
        at = next_special(p, at, n);
        if (at >= n || static_cast<unsigned char>(p[at]) < 0x20) return 0;
        if (p[at] == '"') return at + 1;
        escaped = true;
        if (at + 1 >= n) return 0;
        switch (p[at + 1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't': at += 2; break;
            case 'u':
                if (at + 6 > n || !is_hex(p[at + 2]) || !is_hex(p[at + 3]) || !is_hex(p[at + 4]) || !is_hex(p[at + 5]))
                    return 0;
                at += 6;
                break;
            default: return 0;
        }
    }
}

// The end of the number starting at `i` (-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?), or 0.
inline std::size_t number_end(const char* p, std::size_t i, std::size_t n) {
    auto digits = [&](std::size_t& at) {
        const std::size_t start = at;
        while (at < n && is_digit(p[at])) ++at;
        return at > start;
    };
    if (i < n && p[i] == '-') ++i;
    if (i < n && p[i] == '0') ++i;
    else if (!digits(i)) return 0;
    if (i < n && p[i] == '.' && !digits(++i)) return 0;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        ++i;
        if (i < n && (p[i] == '+' || p[i] == '-')) ++i;
        if (!digits(i)) return 0;
    }
    return i;
}

}  // namespace detail

// Walks `doc`, which must hold exactly one JSON value (whitespace around it), calling `handler`
// with `pos` set as RapidJSON's stream would be. `stack` is scratch space, reused. False: the walk
// declined (see the top of this file); the handler may have been called part way.
template <typename Handler>
bool walk(std::string_view doc, Position& pos, Handler& handler, std::vector<std::uint32_t>& stack) {
    using namespace detail;
    // A frame: its member or element count, shifted left once, with 1 for an object.
    enum class Next : std::uint8_t { value, first_key, key, first_element, after_value };
    const char* p = doc.data();
    const std::size_t n = doc.size();
    std::size_t i = 0;
    stack.clear();
    auto skip_space = [&] {
        while (i < n && is_space(p[i])) ++i;
    };
    auto close = [&](bool object) {
        pos.at = i;
        const std::uint32_t members = stack.back() >> 1;
        stack.pop_back();
        ++i;
        return object ? handler.EndObject(members) : handler.EndArray(members);
    };
    for (Next next = Next::value;;) {
        skip_space();
        if (next == Next::after_value && stack.empty()) return i == n;  // nothing after the one value
        if (i >= n) return false;
        const char c = p[i];
        switch (next) {
            case Next::value:
                if (c == '{' || c == '[') {
                    pos.at = i;
                    if (!(c == '{' ? handler.StartObject() : handler.StartArray())) return false;
                    stack.push_back(c == '{' ? 1u : 0u);
                    ++i;
                    next = c == '{' ? Next::first_key : Next::first_element;
                    continue;
                }
                if (c == '"') {
                    bool escaped = false;
                    const std::size_t end = string_end(p, i, n, escaped);
                    if (end == 0) return false;
                    pos.at = i;
                    if (!handler.String(p + i + 1, static_cast<std::uint32_t>(end - i - 2), true)) return false;
                    i = end;
                } else if (c == '-' || is_digit(c)) {
                    const std::size_t end = number_end(p, i, n);
                    if (end == 0) return false;
                    pos.at = i;
                    if (!handler.RawNumber(p + i, static_cast<std::uint32_t>(end - i), true)) return false;
                    i = end;
                } else {
                    const std::string_view rest = doc.substr(i, 5);
                    const bool is_true = rest.substr(0, 4) == "true", is_null = rest.substr(0, 4) == "null";
                    if (!is_true && !is_null && rest != "false") return false;
                    i += is_true || is_null ? 4 : 5;
                    pos.at = i;
                    if (!(is_null ? handler.Null() : handler.Bool(is_true))) return false;
                }
                next = Next::after_value;
                continue;
            case Next::first_key:
                if (c == '}') {
                    if (!close(true)) return false;
                    next = Next::after_value;
                    continue;
                }
                [[fallthrough]];
            case Next::key: {
                bool escaped = false;
                const std::size_t end = c == '"' ? string_end(p, i, n, escaped) : 0;
                if (end == 0 || escaped) return false;  // an escaped key is decoded by RapidJSON
                pos.at = i;
                if (!handler.Key(p + i + 1, static_cast<std::uint32_t>(end - i - 2), true)) return false;
                i = end;
                skip_space();
                if (i >= n || p[i] != ':') return false;
                ++i;
                next = Next::value;
                continue;
            }
            case Next::first_element:
                if (c == ']') {
                    if (!close(false)) return false;
                    next = Next::after_value;
                    continue;
                }
                next = Next::value;
                continue;
            case Next::after_value: {
                stack.back() += 2;  // one more member or element
                const bool object = stack.back() & 1u;
                if (c == ',') {
                    ++i;
                    next = object ? Next::key : Next::value;
                } else if (c == (object ? '}' : ']')) {
                    if (!close(object)) return false;
                } else {
                    return false;
                }
                continue;
            }
        }
    }
}

}  // namespace sluice::stages::json_walk
