// The SAX handler behind scan_document.
#include "stages/chat_message/chat_scan.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include "engine/utf8.h"
#include "stages/shared/json_literal.h"
#include "stages/shared/json_walk.h"

namespace sluice::stages::scan {

namespace {

// Iterative: no recursion, so nesting thousands deep cannot overflow the stack.
// Numbers as strings: their text is kept, so 64-bit limits and rounding never apply.
constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseNumbersAsStringsFlag;

// What the value that starts next means to the transform.
enum class Target : std::uint8_t { top, history, messages, message, field, ignored };

constexpr std::size_t kTrackedDepth = 6;  // top(1) history(2) messages(3) message(4) field(5)

Field field_of(std::string_view key) {
    switch (key.size()) {
        case 4:
            return key == "role" ? role : key == "done" ? done : field_count;
        case 5:
            return key == "model"   ? model
                   : key == "files" ? files
                   : key == "error" ? error
                   : key == "usage" ? usage
                                    : field_count;
        case 6:
            return key == "output" ? output : key == "embeds" ? embeds : field_count;
        case 7:
            return key == "content" ? content : key == "sources" ? sources : field_count;
        case 8:
            return key == "parentId" ? parent_id : field_count;
        case 9:
            return key == "timestamp" ? timestamp : field_count;
        case 13:
            return key == "statusHistory" ? status_history : field_count;
        default:
            return field_count;
    }
}

// `Stream` is what tells the position: RapidJSON's stream, or json_walk's Position.
template <typename Stream>
class Handler {
public:
    // `doc` is the document; `parsed` what RapidJSON reads: doc itself, or its disarmed copy
    // (same length, same structure, see disarm()).
    Handler(const Stream& is, std::string_view doc, std::string_view parsed, Result& r)
        : is_(is), doc_(doc), parsed_(parsed), r_(r) {}

    // Where Tell() stands in each callback (RapidJSON's iterative parser): strings and numbers are
    // read through a local copy of the stream, and brackets are taken after their callback, so
    // in those Tell() is where the token starts; null, true and false have been read past.
    bool Null() { return literal(Type::null, 4); }
    bool Bool(bool b) { return literal(b ? Type::json_true : Type::json_false, b ? 4 : 5); }
    bool RawNumber(const char*, rapidjson::SizeType len, bool) {
        settle(pos());
        if (Value* v = begin_value(Type::number)) {
            v->begin = pos();
            v->end = v->begin + len;
        }
        return true;
    }
    bool String(const char*, rapidjson::SizeType, bool) {
        settle(pos());
        // A number the disarmed copy turned into a string is still a number.
        Type type = doc_[pos()] == '"' ? Type::string : Type::number;
        if (Value* v = begin_value(type)) {
            v->begin = pos();
            unsettled_ = v;  // its end is known once the next token starts
        }
        return true;
    }
    bool StartObject() { return open(Type::object); }
    bool StartArray() { return open(Type::array); }
    bool EndObject(rapidjson::SizeType n) { return close(n); }
    bool EndArray(rapidjson::SizeType n) { return close(n); }
    bool Key(const char* s, rapidjson::SizeType len, bool) {
        settle(pos());
        if (depth_ > kTrackedDepth - 1) return true;
        std::string_view key(s, len);  // RapidJSON's decoding: exact for every name compared here
        switch (frames_[depth_ - 1].target) {
            case Target::top:
                next_ = key == "history" ? Target::history : Target::ignored;
                break;
            case Target::history:
                next_ = key == "messages" ? Target::messages : Target::ignored;
                break;
            case Target::messages:
                next_ = Target::message;
                pending_key_ = Value{Type::string, false, pos(), pos()};
                unsettled_ = &pending_key_;
                break;
            case Target::message:
                next_field_ = field_of(key);
                next_ = next_field_ == field_count ? Target::ignored : Target::field;
                break;
            default:
                next_ = Target::ignored;
        }
        return true;
    }
    // Never called with kParseNumbersAsStringsFlag, but part of the handler concept.
    bool Int(int) { return false; }
    bool Uint(unsigned) { return false; }
    bool Int64(std::int64_t) { return false; }
    bool Uint64(std::uint64_t) { return false; }
    bool Double(double) { return false; }

private:
    std::uint32_t pos() const { return static_cast<std::uint32_t>(is_.Tell()); }

public:
    // Ends the string value left open, given a position `next` at or before the start of the
    // token that follows it: between them lie only whitespace and one ',' or bracket.
    void settle(std::uint32_t next) {
        if (!unsettled_) return;
        std::uint32_t at = next;
        while (at > unsettled_->begin + 1 && parsed_[at - 1] != '"')
            --at;
        unsettled_->end = at;
        unsettled_ = nullptr;
    }

private:
    bool literal(Type type, std::size_t raw_len) {
        settle(pos() - static_cast<std::uint32_t>(raw_len));
        if (Value* v = begin_value(type)) {
            v->end = pos();
            v->begin = v->end - static_cast<std::uint32_t>(raw_len);
        }
        return true;
    }

    bool open(Type type) {
        settle(pos());
        Value* v = begin_value(type);
        if (v) v->begin = pos();
        if (depth_ < kTrackedDepth) frames_[depth_] = {current_, current_field_};
        ++depth_;
        next_ = Target::ignored;  // array elements; an object's Key sets it per member
        return true;
    }

    bool close(rapidjson::SizeType members) {
        settle(pos());
        --depth_;
        if (depth_ >= kTrackedDepth) return true;
        Frame f = frames_[depth_];
        Value* v = f.target == Target::top     ? &r_.top
                   : f.target == Target::field ? &r_.messages.back().fields[f.field]
                                               : nullptr;
        if (v) {
            v->end = pos() + 1;
            v->empty = members == 0;
        }
        return true;
    }

    // Records the start of a value at the current target; returns the slot for its extent, or
    // nullptr when the transform does not need it.
    Value* begin_value(Type type) {
        Target target = depth_ == 0 ? Target::top : depth_ < kTrackedDepth ? next_ : Target::ignored;
        current_ = target;
        current_field_ = next_field_;
        bool object = type == Type::object;
        switch (target) {
            case Target::top:
                r_.top.type = type;
                // Until a "history" object shows up, the chat has none (an absent key counts too).
                r_.outcome = object ? Outcome::history_not_object : Outcome::top_not_object;
                return &r_.top;
            case Target::history:
                r_.messages.clear();  // a later "history" replaces an earlier one
                r_.outcome = object ? Outcome::messages_not_object : Outcome::history_not_object;
                return nullptr;
            case Target::messages:
                r_.messages.clear();
                r_.outcome = object ? Outcome::ok : Outcome::messages_not_object;
                return nullptr;
            case Target::message: {
                Message& m = r_.messages.emplace_back();
                m.key = pending_key_;
                m.is_object = object;
                return nullptr;
            }
            case Target::field: {
                Value& v = r_.messages.back().fields[next_field_];
                v = Value{};
                v.type = type;
                return &v;
            }
            case Target::ignored:
                return nullptr;
        }
        return nullptr;
    }

    struct Frame {
        Target target = Target::ignored;
        Field field = field_count;
    };

    const Stream& is_;
    std::string_view doc_;
    std::string_view parsed_;
    Result& r_;
    std::size_t depth_ = 0;
    Frame frames_[kTrackedDepth];
    Target next_ = Target::top;
    Target current_ = Target::top;
    Field next_field_ = field_count;
    Field current_field_ = field_count;
    Value* unsettled_ = nullptr;
    Value pending_key_;
};

bool is_number_char(char c) {
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Whether `t` is exactly one JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
bool is_json_number(std::string_view t) {
    std::size_t i = 0;
    auto digits = [&] {
        std::size_t start = i;
        while (i < t.size() && is_digit(t[i]))
            ++i;
        return i > start;
    };
    if (i < t.size() && t[i] == '-') ++i;
    if (i < t.size() && t[i] == '0')
        ++i;
    else if (!digits())
        return false;
    if (i < t.size() && t[i] == '.' && (++i, !digits())) return false;
    if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
        ++i;
        if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
        if (!digits()) return false;
    }
    return i == t.size();
}

// Rewrites `work` (a copy of the document) into text of the same length and structure that
// RapidJSON reads, for the two things PostgreSQL's json accepts and RapidJSON does not:
// - a lone high-surrogate escape \uD8xx..\uDBxx becomes \uDCxx..\uDFxx (RapidJSON takes a lone
//   low one);
// - a number of two or more characters becomes a string of the same length ("1e400" is too
//   big for RapidJSON even when numbers are kept as text).
// Offsets still match the original, and only the original's text is ever sliced or decoded.
void disarm(std::string& work) {
    bool in_string = false;
    for (std::size_t i = 0; i < work.size(); ++i) {
        char c = work[i];
        if (!in_string) {
            if ((c == '-' || is_digit(c)) && i + 1 < work.size() && is_number_char(work[i + 1])) {
                std::size_t end = i + 1;
                while (end < work.size() && is_number_char(work[end]))
                    ++end;
                // Only a well-formed number: disarming must never make bad JSON good.
                if (!is_json_number(std::string_view(work).substr(i, end - i))) {
                    i = end - 1;
                    continue;
                }
                std::fill(work.begin() + i + 1, work.begin() + end - 1, 'n');
                work[i] = work[end - 1] = '"';
                i = end - 1;
                continue;
            }
            in_string = c == '"';
            continue;
        }
        if (c == '"') {
            in_string = false;
        } else if (c == '\\' && i + 1 < work.size()) {
            unsigned code = 0, next = 0;
            if (work[i + 1] == 'u' && hex4(work, i + 2, code) && is_high_surrogate(code)) {
                bool paired = i + 12 <= work.size() && work.compare(i + 6, 2, "\\u") == 0 && hex4(work, i + 8, next) &&
                              is_low_surrogate(next);
                if (paired) {
                    i += 11;
                    continue;
                }
                work[i + 2] = 'D';
                work[i + 3] = "CDEF"[(code >> 8) & 0x3];
            }
            ++i;  // skip the escaped character
        }
    }
}

// Replaces each byte of `work` that is not part of valid UTF-8 with '?': same length, same
// structure (the grammar admits such bytes only inside strings), so a strict parse reads the
// document and leaves the check of each value to the caller (the transform's validate_utf8).
void mask_invalid_utf8(std::string& work) {
    std::size_t i = 0;
    while (i < work.size()) {
        std::size_t n = static_cast<unsigned char>(work[i]) < 0x80
                            ? 1
                            : engine::utf8_sequence_length(std::string_view(work).substr(i));
        if (n == 0) {
            work[i++] = '?';
            continue;
        }
        i += n;
    }
}

template <typename Stream>
void parse(Stream& is, std::string_view doc, std::string_view parsed, bool strict, Result& result,
           rapidjson::ParseResult& status) {
    Handler<Stream> handler(is, doc, parsed, result);
    rapidjson::Reader reader;
    status = strict ? reader.Parse<kParseFlags | rapidjson::kParseValidateEncodingFlag>(is, handler)
                    : reader.Parse<kParseFlags>(is, handler);
    handler.settle(static_cast<std::uint32_t>(doc.size()));  // a string that ends the document
}

void reset(Result& r) {
    r.outcome = Outcome::ok;
    r.top = Value{};
    r.messages.clear();
    r.error.clear();
}

}  // namespace

bool scan_document_fast(std::string_view doc, Result& result) {
    reset(result);
    // The walk's stack of open brackets: one per parse thread, kept between documents.
    thread_local std::vector<std::uint32_t> stack;
    json_walk::Position pos;
    Handler<json_walk::Position> handler(pos, doc, doc, result);
    if (json_walk::walk(doc, pos, handler, stack)) {
        handler.settle(static_cast<std::uint32_t>(doc.size()));  // a string that ends the document
        return true;
    }
    reset(result);
    return false;
}

void scan_document(std::string_view doc, Result& result, std::string& work, bool strict) {
    // Text the server has checked takes the fast walk; RapidJSON reads the rest, and what the walk declines.
    if (!strict && scan_document_fast(doc, result)) return;
    scan_document_rapidjson(doc, result, work, strict);
}

void scan_document_rapidjson(std::string_view doc, Result& result, std::string& work, bool strict) {
    reset(result);
    rapidjson::ParseResult status;
    // StringStream reads until a NUL byte: a document holding one (never valid JSON) must not
    // be read past; the terminator the reader provides ends every document.
    rapidjson::StringStream is(doc.data());
    parse(is, doc, doc, strict, result, status);
    // Each fix makes a copy in `work` (or amends the one made) and parses again: rare documents.
    bool masked = false, disarmed = false;
    for (;;) {
        rapidjson::ParseErrorCode code = status.Code();
        // Only a strict parse refuses bytes that are not UTF-8; it also refuses control characters.
        bool mask =
            strict && !masked && code == rapidjson::kParseErrorStringInvalidEncoding && !engine::valid_utf8(doc);
        bool disarm_it = !disarmed && (code == rapidjson::kParseErrorStringUnicodeSurrogateInvalid ||
                                       code == rapidjson::kParseErrorNumberTooBig);
        if (!mask && !disarm_it) break;
        if (!masked && !disarmed) {
            work.reserve(doc.size() + kSimdSlack);
            work.assign(doc.data(), doc.size());
        }
        if (mask) {
            mask_invalid_utf8(work);
            masked = true;
        } else {
            disarm(work);
            disarmed = true;
        }
        reset(result);
        is = rapidjson::StringStream(work.c_str());
        parse(is, doc, work, strict, result, status);
    }
    if (!status.IsError() && is.Tell() < doc.size()) {
        status.Set(rapidjson::kParseErrorDocumentRootNotSingular, is.Tell());  // an embedded NUL
    }
    if (status.IsError()) {
        result.outcome = Outcome::unparsable;
        result.messages.clear();
        result.error =
            std::string(rapidjson::GetParseError_En(status.Code())) + " at byte " + std::to_string(status.Offset());
    }
}

}  // namespace sluice::stages::scan
