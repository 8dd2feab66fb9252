// JSON compared by meaning, as Python's json module reads it: whitespace and escapes do not
// count, key order does, a repeated key counts once with its last value at its first place.
// Lone UTF-16 surrogate escapes, which PostgreSQL's json accepts and RapidJSON refuses, compare
// as themselves.
#include "stages/chat_message/json_meaning.h"

#include <rapidjson/document.h>

#include <charconv>
#include <string>
#include <system_error>
#include <unordered_map>
#include <vector>

namespace sluice::stages {

namespace {

// The code unit of the \uXXXX escape at `at`, or -1.
int escape_at(std::string_view text, std::size_t at) {
    if (at + 6 > text.size() || text.compare(at, 2, "\\u") != 0) return -1;
    int unit = -1;
    const char* end = text.data() + at + 6;
    auto [stop, error] = std::from_chars(text.data() + at + 2, end, unit, 16);
    return error == std::errc() && stop == end ? unit : -1;
}

// RapidJSON refuses lone UTF-16 surrogate escapes, which PostgreSQL's json accepts: each becomes
// an escaped backslash and its hex digits. The same change on both sides keeps equal meanings equal.
std::string disarm_lone_surrogates(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\\' || i + 1 == text.size()) {
            out.push_back(text[i]);
            continue;
        }
        int unit = escape_at(text, i);
        if (unit >= 0xD800 && unit <= 0xDBFF) {
            int low = escape_at(text, i + 6);
            if (low >= 0xDC00 && low <= 0xDFFF) {  // a pair: one code point, fine as it is
                out.append(text.substr(i, 12));
                i += 11;
                continue;
            }
        }
        if (unit >= 0xD800 && unit <= 0xDFFF) {
            out.append("\\\\u");
            for (char h : text.substr(i + 2, 4))
                out.push_back(h >= 'A' && h <= 'F' ? char(h - 'A' + 'a') : h);
            i += 5;
            continue;
        }
        out.append(text.substr(i, 2));  // any other escape, copied whole so its backslash stays paired
        ++i;
    }
    return out;
}

bool parse_json(std::string_view text, rapidjson::Document& doc) {
    std::string disarmed = disarm_lone_surrogates(text);
    // Iterative: PostgreSQL's json takes any depth, and a recursive parse would overflow the stack.
    doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseFullPrecisionFlag>(disarmed.data(), disarmed.size());
    return !doc.HasParseError();
}

using Member = std::pair<std::string_view, const rapidjson::Value*>;

// An object's members as a Python dict holds them: a repeated key at its first place, with its last value.
void dict_members(const rapidjson::Value& object, std::vector<Member>& out) {
    out.clear();
    std::unordered_map<std::string_view, std::size_t> at;
    for (auto m = object.MemberBegin(); m != object.MemberEnd(); ++m) {
        std::string_view name(m->name.GetString(), m->name.GetStringLength());
        auto [it, fresh] = at.emplace(name, out.size());
        if (fresh)
            out.emplace_back(name, &m->value);
        else
            out[it->second].second = &m->value;
    }
}

bool same_number(const rapidjson::Value& a, const rapidjson::Value& b) {
    if (a.IsInt64() && b.IsInt64()) return a.GetInt64() == b.GetInt64();
    if (a.IsUint64() && b.IsUint64()) return a.GetUint64() == b.GetUint64();
    return a.GetDouble() == b.GetDouble();
}

// Compares two parsed values with an explicit stack: nesting depth is unbounded.
bool same_value(const rapidjson::Value& a, const rapidjson::Value& b) {
    std::vector<std::pair<const rapidjson::Value*, const rapidjson::Value*>> todo{{&a, &b}};
    std::vector<Member> left, right;
    while (!todo.empty()) {
        auto [x, y] = todo.back();
        todo.pop_back();
        if (x->IsNumber() || y->IsNumber()) {
            if (!x->IsNumber() || !y->IsNumber() || !same_number(*x, *y)) return false;
            continue;
        }
        if (x->GetType() != y->GetType()) return false;
        switch (x->GetType()) {
            case rapidjson::kStringType:
                if (std::string_view(x->GetString(), x->GetStringLength()) !=
                    std::string_view(y->GetString(), y->GetStringLength()))
                    return false;
                break;
            case rapidjson::kArrayType:
                if (x->Size() != y->Size()) return false;
                for (rapidjson::SizeType i = 0; i < x->Size(); ++i)
                    todo.emplace_back(&(*x)[i], &(*y)[i]);
                break;
            case rapidjson::kObjectType:
                dict_members(*x, left);
                dict_members(*y, right);
                if (left.size() != right.size()) return false;
                for (std::size_t i = 0; i < left.size(); ++i) {
                    if (left[i].first != right[i].first) return false;
                    todo.emplace_back(left[i].second, right[i].second);
                }
                break;
            default:
                break;  // null, false, true: the type says it all
        }
    }
    return true;
}

}  // namespace

bool same_json_meaning(std::string_view a, std::string_view b) {
    if (a == b) return true;
    rapidjson::Document left, right;
    return parse_json(a, left) && parse_json(b, right) && same_value(left, right);
}

}  // namespace sluice::stages
