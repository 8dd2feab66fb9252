// The blob parse behind current_message::Blob: a RapidJSON SAX handler that keeps only the
// members SPEC §6 reads, and the copy of the text RapidJSON needs where its grammar and
// Python's part (numbers of any size, lone surrogate escapes, NaN and Infinity).
#include "stages/current_message/python_json.h"

#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <charconv>
#include <unordered_map>

#include "stages/shared/json_walk.h"

namespace sluice::stages::current_message {

namespace {

// Iterative: PostgreSQL's json takes any depth. Numbers as strings: their literal is kept.
constexpr unsigned kFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseNumbersAsStringsFlag;

// Opens a string that prepare() made of a number: 0xFF is never part of UTF-8, so no string
// PostgreSQL's json (or Python's str) holds can begin with it.
constexpr char kNumberMark = '\xFF';

constexpr std::size_t kPythonIntDigits = 4300;  // sys.int_info.default_max_str_digits (Python 3.11)

// What a value means to the rule, from where it stands.
enum class Role : std::uint8_t { top, history, message_map, message_list, message, whole, shallow, skip };

Role child_role(Role parent, Kind kind, std::string_view key) {
    const bool object = kind == Kind::object;
    switch (parent) {
        case Role::top:
            if (!object) return Role::skip;
            if (key == "history") return Role::history;
            if (key == "messages") return Role::message_list;
            return key == "currentId" || key == "branchPointMessageId" ? Role::shallow : Role::skip;
        case Role::history:
            if (!object) return Role::skip;
            if (key == "messages") return Role::message_map;
            return key == "currentId" ? Role::shallow : Role::skip;
        case Role::message_map:
            return object ? Role::message : Role::skip;
        case Role::message_list:
            return object ? Role::skip : Role::message;
        case Role::message:
            return object && (key == "id" || key == "parentId" || key == "timestamp") ? Role::whole : Role::skip;
        case Role::whole:
            return Role::whole;  // compared and hashed by Python: kept whole
        default:
            return Role::skip;
    }
}

// An integer literal json.loads refuses: more than kPythonIntDigits digits.
bool too_long_integer(std::string_view literal) {
    return literal.find_first_of(".eE") == std::string_view::npos &&
           literal.size() - (literal[0] == '-') > kPythonIntDigits;
}

// What drives a Builder: RapidJSON (strings decoded), or json_walk (strings as the text has them).
enum class Source : std::uint8_t { rapidjson, walk, walk_python };

// Builds the kept nodes in document order. (The base class answers the number callbacks that
// kParseNumbersAsStringsFlag never makes.) Driven by json_walk it declines (returns false) what
// it cannot keep as RapidJSON would: a kept string holding an escape (not decoded), and under
// Python's grammar an integer json.loads refuses; RapidJSON then reads the text.
class Builder : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Builder> {
public:
    Builder(std::vector<Node>& nodes, Source source) : nodes_(nodes), source_(source) {}

    bool Null() {
        add(Kind::null);
        return true;
    }
    bool Bool(bool b) {
        if (Node* n = add(Kind::boolean)) n->truth = b;
        return true;
    }
    bool RawNumber(const char* s, rapidjson::SizeType len, bool) {
        if (source_ == Source::walk_python && len > kPythonIntDigits && too_long_integer({s, len})) return false;
        if (Node* n = add(Kind::number)) n->text.assign(s, len);
        return true;
    }
    bool String(const char* s, rapidjson::SizeType len, bool copy) {
        if (len > 0 && s[0] == kNumberMark) return RawNumber(s + 1, len - 1, copy);
        Node* n = add(Kind::string);
        if (n == nullptr) return true;
        if (source_ != Source::rapidjson && std::string_view(s, len).find('\\') != std::string_view::npos) return false;
        n->text.assign(s, len);
        return true;
    }
    bool Key(const char* s, rapidjson::SizeType len, bool) {
        if (stack_.empty() || stack_.back().node != kNone) key_.assign(s, len);  // a skipped object's keys go unread
        return true;
    }
    bool StartObject() { return open(Kind::object); }
    bool StartArray() { return open(Kind::array); }
    bool EndObject(rapidjson::SizeType) { return close(); }
    bool EndArray(rapidjson::SizeType) { return close(); }

private:
    struct Frame {
        std::uint32_t node;  // kNone: skipped
        Role role;
        Kind kind;
        std::uint32_t last = kNone;  // last kept child
    };

    // Counts the value starting now in its parent and keeps it when its role says so.
    Node* add(Kind kind) {
        Role role = Role::top;
        if (!stack_.empty()) {
            Frame& f = stack_.back();
            if (f.node == kNone) return nullptr;
            ++nodes_[f.node].count;
            role = child_role(f.role, f.kind, key_);
            if (role == Role::skip) return nullptr;
        }
        const auto at = static_cast<std::uint32_t>(nodes_.size());
        nodes_.emplace_back();
        nodes_.back().kind = kind;
        if (!stack_.empty()) {
            Frame& f = stack_.back();
            if (f.kind == Kind::object) nodes_.back().key = key_;
            (f.last == kNone ? nodes_[f.node].first : nodes_[f.last].next) = at;
            f.last = at;
        }
        added_role_ = role;
        return &nodes_.back();
    }
    bool open(Kind kind) {
        const Node* n = add(kind);
        stack_.push_back(
            Frame{n ? static_cast<std::uint32_t>(nodes_.size() - 1) : kNone, n ? added_role_ : Role::skip, kind});
        return true;
    }
    bool close() {
        stack_.pop_back();
        return true;
    }

    std::vector<Node>& nodes_;
    const Source source_;
    std::vector<Frame> stack_;
    std::string key_;
    Role added_role_ = Role::top;
};

bool read(std::string_view text, std::vector<Node>& nodes, rapidjson::ParseErrorCode& code) {
    nodes.clear();
    Builder builder(nodes, Source::rapidjson);
    rapidjson::Reader reader;
    rapidjson::MemoryStream stream(text.data(), text.size());
    code = reader.Parse<kFlags>(stream, builder).Code();
    // The stream reads a NUL byte as the end: text after one is not part of a document.
    if (code == rapidjson::kParseErrorNone && stream.Tell() != text.size())
        code = rapidjson::kParseErrorDocumentRootNotSingular;
    return code == rapidjson::kParseErrorNone;
}

// The fast read: json_walk skips string bodies instead of copying them. False when it declines
// (see json_walk.h and Builder); RapidJSON then reads the text and decides.
bool walk(std::string_view text, bool python_grammar, std::vector<Node>& nodes) {
    thread_local std::vector<std::uint32_t> stack;  // the walk's open brackets, kept between blobs
    nodes.clear();
    Builder builder(nodes, python_grammar ? Source::walk_python : Source::walk);
    json_walk::Position pos;
    return json_walk::walk(text, pos, builder, stack);
}

int hex4(std::string_view s, std::size_t at) {
    int unit = -1;
    if (at + 4 > s.size()) return -1;
    auto [end, error] = std::from_chars(s.data() + at, s.data() + at + 4, unit, 16);
    return error == std::errc() && end == s.data() + at + 4 ? unit : -1;
}

void append_generalized_utf8(int unit, std::string& out) {
    out.push_back(static_cast<char>(0xE0 | (unit >> 12)));
    out.push_back(static_cast<char>(0x80 | ((unit >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (unit & 0x3F)));
}

// Copies the string literal opening at `i` into `out`, each lone surrogate escape as its
// generalized UTF-8 bytes (RapidJSON refuses a lone high one; Python keeps it). Returns the
// position after it (the text's end when it is not closed: RapidJSON then refuses it).
std::size_t copy_string(std::string_view s, std::size_t i, std::string& out) {
    out.push_back(s[i++]);
    while (i < s.size() && s[i] != '"') {
        if (s[i] != '\\' || i + 1 == s.size()) {
            out.push_back(s[i++]);
            continue;
        }
        const int unit = s[i + 1] == 'u' ? hex4(s, i + 2) : -1;
        const bool high = unit >= 0xD800 && unit <= 0xDBFF;
        const int next = high && i + 8 <= s.size() && s.substr(i + 6, 2) == "\\u" ? hex4(s, i + 8) : -1;
        if (next >= 0xDC00 && next <= 0xDFFF) {  // a pair: one code point, which RapidJSON decodes
            out.append(s.substr(i, 12));
            i += 12;
        } else if (unit >= 0xD800 && unit <= 0xDFFF) {
            append_generalized_utf8(unit, out);
            i += 6;
        } else {
            out.append(s.substr(i, 2));  // the escape's first two bytes: its backslash stays paired
            i += 2;
        }
    }
    if (i < s.size()) out.push_back(s[i++]);
    return i;
}

// The end of the number literal at `i`, or 0. Python's grammar adds NaN, Infinity, -Infinity.
std::size_t number_end(std::string_view s, std::size_t i, bool python_grammar) {
    if (python_grammar) {
        for (std::string_view word : {"NaN", "Infinity", "-Infinity"})
            if (s.compare(i, word.size(), word) == 0) return i + word.size();
    }
    if (s[i] != '-' && (s[i] < '0' || s[i] > '9')) return 0;
    return json_walk::detail::number_end(s.data(), i, s.size());
}

// `text` as RapidJSON can read it with Python's meaning: every number a kNumberMark string of its
// literal (RapidJSON refuses numbers beyond a double), every lone high surrogate escape its bytes.
// False for an integer json.loads refuses (more than 4300 digits, under python_grammar).
bool prepare(std::string_view text, bool python_grammar, std::string& out) {
    out.clear();
    out.reserve(text.size() + text.size() / 4);
    for (std::size_t i = 0; i < text.size();) {
        if (text[i] == '"') {
            i = copy_string(text, i, out);
            continue;
        }
        const std::size_t end = number_end(text, i, python_grammar);
        if (end == 0) {
            out.push_back(text[i++]);  // structure, or what RapidJSON will refuse
            continue;
        }
        const std::string_view literal = text.substr(i, end - i);
        if (python_grammar && too_long_integer(literal)) return false;
        out.push_back('"');
        out.push_back(kNumberMark);
        out.append(literal);
        out.push_back('"');
        i = end;
    }
    return true;
}

// json.loads refuses control characters inside strings (and outside, as any JSON does); RapidJSON
// 1.1.0's SSE2 scan lets 0x1A..0x1F through.
bool has_control_character(std::string_view text) {
    for (char c : text)
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') return true;
    return false;
}

}  // namespace

bool Blob::parse_text(std::string_view text, bool python_grammar) {
    if (walk(text, python_grammar, nodes_)) return true;  // the common case: nothing copied
    rapidjson::ParseErrorCode code = rapidjson::kParseErrorNone;
    if (!python_grammar) {
        if (read(text, nodes_, code)) return true;  // the common case: no copy
        if (code != rapidjson::kParseErrorStringUnicodeSurrogateInvalid && code != rapidjson::kParseErrorNumberTooBig)
            return false;
    } else if (has_control_character(text)) {
        return false;
    }
    return prepare(text, python_grammar, work_) && read(work_, nodes_, code);
}

bool Blob::parse(std::string_view chat) {
    bool ok = parse_text(chat, false);
    if (ok && nodes_[0].kind == Kind::string) {  // double-encoded: upstream json.loads it again
        inner_.swap(nodes_[0].text);
        ok = parse_text(inner_, true);
    }
    if (!ok) nodes_.clear();
    zero_ = static_cast<std::uint32_t>(nodes_.size());
    nodes_.emplace_back();
    nodes_.back().kind = Kind::number;
    nodes_.back().text = "0";
    return ok;
}

std::uint32_t Blob::top() const {
    return zero_ == 0 ? kNone : 0;
}

std::uint32_t Blob::get(std::uint32_t object, std::string_view name) const {
    std::uint32_t found = kNone;
    if (object == kNone || nodes_[object].kind != Kind::object) return found;
    for (std::uint32_t c = nodes_[object].first; c != kNone; c = nodes_[c].next)
        if (nodes_[c].key == name) found = c;
    return found;
}

void Blob::dict_items(std::uint32_t object, std::vector<std::uint32_t>& out) const {
    out.clear();
    if (object == kNone || nodes_[object].kind != Kind::object) return;
    std::unordered_map<std::string_view, std::size_t> at;
    for (std::uint32_t c = nodes_[object].first; c != kNone; c = nodes_[c].next) {
        auto [it, fresh] = at.emplace(nodes_[c].key, out.size());
        if (fresh)
            out.push_back(c);
        else
            out[it->second] = c;
    }
}

}  // namespace sluice::stages::current_message
