// A fast walk over JSON text, for the first job's chat scan (stages/chat_message/chat_scan.cpp)
// and the second job's reading of a chat (stages/current_message/python_json.cpp): it checks the
// grammar and calls a RapidJSON SAX handler as RapidJSON's iterative reader with
// kParseNumbersAsStringsFlag does, in the same order and with the stream's Tell() where RapidJSON
// has it at each call, but copies and decodes nothing: string bodies are skipped 16 bytes at a
// time. RapidJSON copies every string onto its stack first, which made it three quarters of
// sluice's CPU per message.
//
// It reads text the way RapidJSON does after chat_scan's disarm() (any \uXXXX escape and any
// well-formed number of any size are accepted), and declines, returning false part way through,
// whenever it is not sure of that: a control character or NUL byte, a key holding an escape (the
// handler compares keys decoded), anything that is not JSON. The caller then resets what the
// handler recorded and reads the document with RapidJSON, which decides and words any error.
#pragma once

#include <algorithm>
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

inline bool is_space(char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}
inline bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
inline bool is_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

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
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                at += 2;
                break;
            case 'u':
                if (at + 6 > n || !is_hex(p[at + 2]) || !is_hex(p[at + 3]) || !is_hex(p[at + 4]) || !is_hex(p[at + 5]))
                    return 0;
                at += 6;
                break;
            default:
                return 0;
        }
    }
}

// The end of the number starting at `i` (-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?), or 0.
inline std::size_t number_end(const char* p, std::size_t i, std::size_t n) {
    auto digits = [&](std::size_t& at) {
        const std::size_t start = at;
        while (at < n && is_digit(p[at]))
            ++at;
        return at > start;
    };
    if (i < n && p[i] == '-') ++i;
    if (i < n && p[i] == '0')
        ++i;
    else if (!digits(i))
        return 0;
    if (i < n && p[i] == '.' && !digits(++i)) return 0;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        ++i;
        if (i < n && (p[i] == '+' || p[i] == '-')) ++i;
        if (!digits(i)) return 0;
    }
    return i;
}

}  // namespace detail

// One walk over one document; see walk() below.
template <typename Handler>
class Walker {
public:
    Walker(std::string_view doc, Position& pos, Handler& handler, std::vector<std::uint32_t>& stack)
        : p_(doc.data()), n_(doc.size()), pos_(pos), handler_(handler), stack_(stack) {
        stack_.clear();
    }

    // The grammar as a loop over what may come next; false as soon as anything is not as expected.
    bool run() {
        for (Next next = Next::value;;) {
            skip_space();
            if (next == Next::after_value && stack_.empty()) return i_ == n_;  // nothing after the one value
            if (i_ >= n_) return false;
            bool ok = false;
            switch (next) {
                case Next::value:
                    ok = value(next);
                    break;
                case Next::first_member:
                    ok = first_member(next);
                    break;
                case Next::key:
                    ok = key(next);
                    break;
                case Next::after_value:
                    ok = after_value(next);
                    break;
            }
            if (!ok) return false;
        }
    }

private:
    // What the walk expects at the next token.
    enum class Next : std::uint8_t { value, first_member, key, after_value };
    // A frame of `stack_`: its member or element count, shifted left once, and 1 for an object.
    static constexpr std::uint32_t kObject = 1, kOneMore = 2;

    bool value(Next& next) {
        const char c = p_[i_];
        if (c == '{' || c == '[') {
            pos_.at = i_;
            if (!(c == '{' ? handler_.StartObject() : handler_.StartArray())) return false;
            stack_.push_back(c == '{' ? kObject : 0);
            ++i_;
            next = Next::first_member;
            return true;
        }
        next = Next::after_value;
        if (c == '"') return string();
        if (c == '-' || detail::is_digit(c)) return number();
        return literal();
    }
    bool string() {
        bool escaped = false;
        const std::size_t end = detail::string_end(p_, i_, n_, escaped);
        if (end == 0) return false;
        pos_.at = i_;  // RapidJSON reads strings and numbers through a copy of its stream
        if (!handler_.String(p_ + i_ + 1, static_cast<std::uint32_t>(end - i_ - 2), true)) return false;
        i_ = end;
        return true;
    }
    bool number() {
        const std::size_t end = detail::number_end(p_, i_, n_);
        if (end == 0) return false;
        pos_.at = i_;
        if (!handler_.RawNumber(p_ + i_, static_cast<std::uint32_t>(end - i_), true)) return false;
        i_ = end;
        return true;
    }
    bool literal() {
        const std::string_view rest(p_ + i_, std::min<std::size_t>(5, n_ - i_));
        const bool is_true = rest.substr(0, 4) == "true", is_null = rest.substr(0, 4) == "null";
        if (!is_true && !is_null && rest != "false") return false;
        i_ += is_true || is_null ? 4 : 5;
        pos_.at = i_;  // RapidJSON has read the literal when it calls
        return is_null ? handler_.Null() : handler_.Bool(is_true);
    }
    // Right after '{' or '[': its closing bracket, or its first member or element.
    bool first_member(Next& next) {
        const bool object = stack_.back() & kObject;
        if (p_[i_] == (object ? '}' : ']')) {
            next = Next::after_value;
            return close(object);
        }
        next = object ? Next::key : Next::value;
        return true;
    }
    bool key(Next& next) {
        bool escaped = false;
        const std::size_t end = p_[i_] == '"' ? detail::string_end(p_, i_, n_, escaped) : 0;
        if (end == 0 || escaped) return false;  // an escaped key is decoded by RapidJSON
        pos_.at = i_;
        if (!handler_.Key(p_ + i_ + 1, static_cast<std::uint32_t>(end - i_ - 2), true)) return false;
        i_ = end;
        skip_space();
        if (i_ >= n_ || p_[i_] != ':') return false;
        ++i_;
        next = Next::value;
        return true;
    }
    // After a member or element: ',' and the next one, or the closing bracket.
    bool after_value(Next& next) {
        stack_.back() += kOneMore;
        const bool object = stack_.back() & kObject;
        if (p_[i_] == ',') {
            ++i_;
            next = object ? Next::key : Next::value;
            return true;
        }
        return p_[i_] == (object ? '}' : ']') && close(object);
    }
    bool close(bool object) {
        pos_.at = i_;  // RapidJSON takes a bracket after its call
        const std::uint32_t members = stack_.back() >> 1;
        stack_.pop_back();
        ++i_;
        return object ? handler_.EndObject(members) : handler_.EndArray(members);
    }
    void skip_space() {
        while (i_ < n_ && detail::is_space(p_[i_]))
            ++i_;
    }

    const char* p_;
    const std::size_t n_;
    std::size_t i_ = 0;
    Position& pos_;
    Handler& handler_;
    std::vector<std::uint32_t>& stack_;  // the open brackets
};

// Walks `doc`, which must hold exactly one JSON value (whitespace around it), calling `handler`
// with `pos` set as RapidJSON's stream would be. `stack` is scratch space, reused. False: the walk
// declined (see the top of this file); the handler may have been called part way.
template <typename Handler>
bool walk(std::string_view doc, Position& pos, Handler& handler, std::vector<std::uint32_t>& stack) {
    return Walker<Handler>(doc, pos, handler, stack).run();
}

}  // namespace sluice::stages::json_walk
