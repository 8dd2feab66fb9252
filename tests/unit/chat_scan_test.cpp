// The chat scan's fast walk (stages/shared/json_walk.h) against RapidJSON: on every document the walk
// reads, both give the same scan, and the walk reads every ordinary chat.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "stages/chat_message/chat_scan.h"

using namespace sluice::stages;

namespace {

std::string describe(const scan::Value& v) {
    std::ostringstream s;
    s << int(v.type) << (v.empty ? "e" : "") << "[" << v.begin << "," << v.end << ")";
    return s.str();
}

// The whole scan as text, so that two scans compare in one CHECK that shows where they differ.
std::string describe(const scan::Result& r) {
    std::ostringstream s;
    s << "outcome " << int(r.outcome) << " top " << describe(r.top) << " error '" << r.error << "'";
    for (const scan::Message& m : r.messages) {
        s << "\n  key " << describe(m.key) << (m.is_object ? " object" : "") << (m.live ? "" : " dead");
        for (const scan::Value& f : m.fields)
            s << " " << describe(f);
    }
    return s.str();
}

// Scans `doc` both ways. Returns whether the walk read it; when it did, the two scans must agree.
bool walk_agrees(const std::string& doc) {
    scan::Result fast, slow;
    std::string work;
    const bool walked = scan::scan_document_fast(doc, fast);
    if (!walked) return false;
    scan::scan_document_rapidjson(doc, slow, work, /*strict=*/false);
    CHECK_MESSAGE(describe(fast) == describe(slow), "the walk and RapidJSON scan differently: " << doc);
    return true;
}

// Random JSON in the shape of a chat, with what PostgreSQL's json accepts and RapidJSON needs
// help with: lone surrogates, \u0000, numbers past any float, duplicate keys, deep nesting.
class RandomChats {
public:
    // `escaped_keys`: some keys spelt with escapes, which the walk leaves to RapidJSON.
    RandomChats(std::uint64_t seed, bool escaped_keys) : rng_(seed), escaped_keys_(escaped_keys) {}

    std::string chat() {
        std::string messages;
        for (int i = 0, n = pick(6); i < n; ++i) {
            messages += (i ? "," : "") + gap() + "\"" + key(kMessageKeys) + "\"" + gap() + ":" + gap() + message();
        }
        return gap() + "{\"title\":" + string() + ",\"history\":{" + gap() + "\"messages\":" + gap() + "{" + messages +
               "}" + gap() + ",\"currentId\":" + value(2) + "},\"messages\":[" + value(3) + "]}" + gap();
    }
    std::string value(int depth) {
        switch (depth > 0 ? pick(7) : pick(4)) {
            case 0:
                return string();
            case 1:
                return pick_of(kNumbers);
            case 2:
                return pick_of(kLiterals);
            case 3:
                return string();
            case 4:
                return message();
            case 5: {
                std::string a = "[";
                for (int i = 0, n = pick(4); i < n; ++i)
                    a += (i ? "," : "") + gap() + value(depth - 1) + gap();
                return a + "]";
            }
            default: {
                std::string o = "{";
                for (int i = 0, n = pick(4); i < n; ++i)
                    o += std::string(i ? "," : "") + "\"" + key(kFieldKeys) + "\":" + gap() + value(depth - 1);
                return o + "}";
            }
        }
    }
    // The document with one to three bytes deleted, inserted or replaced.
    std::string mutate(std::string doc) {
        static const char kBytes[] = "{}[]\",:\\ 0123456789aeflnrstu-+.E\x01\x1f\x7f\xc3\xa9";
        for (int i = 0, n = 1 + pick(3); i < n && !doc.empty(); ++i) {
            std::size_t at = pick(static_cast<int>(doc.size()));
            char b = kBytes[pick(sizeof kBytes)];  // the terminator too: a NUL byte
            switch (pick(3)) {
                case 0:
                    doc.erase(at, 1);
                    break;
                case 1:
                    doc.insert(doc.begin() + static_cast<std::ptrdiff_t>(at), b);
                    break;
                default:
                    doc[at] = b;
            }
        }
        return doc;
    }

private:
    // The last two of each are spelt with escapes.
    static constexpr const char* kMessageKeys[] = {"m1", "m2", "m3", "m1", "a-b", "", "\\u006d1", "m\\ud800"};
    static constexpr const char* kFieldKeys[] = {
        "role",          "content", "model",  "parentId", "done",   "timestamp", "files",      "usage",
        "statusHistory", "error",   "output", "sources",  "embeds", "x",         "r\\u006fle", "hist\\u006fry"};
    static constexpr const char* kNumbers[] = {"0",
                                               "-0",
                                               "7",
                                               "-1.5e3",
                                               "1e400",
                                               "-1e-400",
                                               "0.1",
                                               "1E+2",
                                               "123456789012345678901234567890",
                                               "1717000000",
                                               "1717000000123.9"};
    static constexpr const char* kLiterals[] = {"true", "false", "null"};
    static constexpr const char* kPieces[] = {"word",    " ",       "é",       "😀",
                                              "\\n",     "\\\"",    "\\\\",    "\\/",
                                              "\\u00e9", "\\ud800", "\\udc00", "\\ud83d\\ude00",
                                              "\\u0000", "\\t",     "x y",     "\\uD800\\u0041",
                                              "sk-1f"};

    std::string message() {
        std::string m = "{";
        for (int i = 0, n = pick(7); i < n; ++i)
            m += std::string(i ? "," : "") + gap() + "\"" + key(kFieldKeys) + "\"" + gap() + ":" + gap() + value(3);
        return m + "}";
    }
    std::string string() {
        std::string s = "\"";
        for (int i = 0, n = pick(5); i < n; ++i)
            s += pick_of(kPieces);
        return s + "\"";
    }
    std::string gap() { return pick(4) == 0 ? std::string(" \n\t\r").substr(0, 1 + pick(4)) : ""; }
    int pick(int n) { return static_cast<int>(rng_() % static_cast<std::uint64_t>(n)); }
    template <std::size_t N>
    const char* pick_of(const char* const (&from)[N]) {
        return from[pick(N)];
    }
    template <std::size_t N>
    const char* key(const char* const (&from)[N]) {
        return from[pick(escaped_keys_ ? N : N - 2)];
    }

    std::mt19937_64 rng_;
    bool escaped_keys_;
};

}  // namespace

TEST_CASE("the fast walk and RapidJSON scan every document the walk reads alike") {
    const std::string deep = std::string(3000, '[') + std::string(3000, ']');
    const std::vector<std::string> documents = {
        R"({"history":{"messages":{"a":{"role":"user","content":"hi","timestamp":1717000000},)"
        R"("b":{"role":"assistant","parentId":"a","model":"m","done":true,"usage":{"t":1}}}}})",
        " \r\n {\n\t\"history\" :\t{\r\n  \"messages\" : {\n\t\t\"w1\" : { \"role\" : \"user\" } } } } \n",
        R"({"history":{"messages":{"s":{"role":"\ud800","content":"\udc00\ud800 \ud83d\ude00 \u0000"}}}})",
        R"({"history":{"messages":{"n":{"role":5,"content":1e400,"usage":{"x":-1234567890123456789012.5e-7}}}}})",
        R"({"history":{"messages":{"k":{"role":"user"},"k":{"role":"a","role":null}}},"history":{"messages":{}}})",
        R"({"history":{"messages":{"d":{"role":"user","content":)" + deep + "}}}}",
        R"({"history":{"messages":{"e":{"role":"user","content":{},"files":[],"output":[{}],"error":{"a":[]}}}}})",
        R"({"history":[]})",
        R"({"history":{"messages":[1,2]}})",
        R"({"history":{"messages":5}})",
        "null",
        "true",
        "false",
        "0",
        "-0",
        "1e400",
        R"("")",
        R"("{\"history\":{}}")",
        "[]",
        "{}",
        "[1,[2,[3]]]",
        // What the walk must decline, as RapidJSON refuses or reads it otherwise:
        "",
        "   ",
        "{",
        "}",
        "[1,]",
        R"({"a":1,})",
        R"({"a" 1})",
        R"({"a":01})",
        "1.",
        "-",
        ".5",
        "1e",
        "+1",
        "tru",
        "nul",
        "truex",
        "[1 2]",
        R"({"a":"b" "c":1})",
        "{} {}",
        "{}x",
        R"("\x")",
        R"("\u12G4")",
        std::string("{\"a\":\"b\x01\"}"),
        std::string("{\"a\":\"b\x1f\"}"),
        std::string("{} \0 {}", 7),
        std::string("{\"a\":\"b\0c\"}", 11),
        R"({"hist\u006fry":{"messages":{"a":{"role":"user"}}}})",
        R"({"history":{"messages":{"a":{"r\u006fle":"user"}}}})",
        "NaN",
        "Infinity",
        "[-]",
        R"({"a":tru})",
    };
    for (const std::string& doc : documents)
        walk_agrees(doc);

    // Declining is always safe, so the walk must be seen to read every chat whose keys it may
    // compare undecoded, and some mutants.
    for (bool escaped_keys : {false, true}) {
        RandomChats random(19, escaped_keys);
        int chats = 0, walked = 0, mutated_walked = 0;
        for (int i = 0; i < 2000; ++i) {
            const std::string doc = random.chat();
            ++chats;
            walked += walk_agrees(doc) ? 1 : 0;
            for (int j = 0; j < 3; ++j)
                mutated_walked += walk_agrees(random.mutate(doc)) ? 1 : 0;
        }
        if (!escaped_keys)
            CHECK_MESSAGE(walked == chats, "the walk read only " << walked << " of " << chats << " chats");
        CHECK_MESSAGE(mutated_walked > 0, "the walk read none of the mutated chats");
    }
}

TEST_CASE("the fast walk reads an ordinary chat, and declines what it cannot vouch for") {
    scan::Result r;
    const std::string chat = R"({"history":{"messages":{"a":{"role":"user","content":"x \" \\ \n \u00e9"}}}})";
    CHECK_MESSAGE(scan::scan_document_fast(chat, r), "the walk declined an ordinary chat");
    CHECK_MESSAGE(r.messages.size() == 1, describe(r));
    CHECK_MESSAGE(!scan::scan_document_fast(std::string("{\"a\":\"\x01\"}"), r), "a control character was walked");
    CHECK_MESSAGE(!scan::scan_document_fast(R"({"hist\u006fry":{}})", r), "a key with an escape was walked");
    CHECK_MESSAGE(!scan::scan_document_fast("{\"a\":1} x", r), "text after the value was walked");
    CHECK_MESSAGE(r.messages.empty(), "a declined walk left messages behind");
}
