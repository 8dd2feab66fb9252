// The structural scan of one chat document: a RapidJSON SAX pass that finds history.messages
// and, for every message, where each field's raw JSON text lies. Values are never copied or
// re-serialised here: the transform slices the source text, which keeps number text, escapes
// and key order exactly as written. Python dict semantics: a repeated key's last value wins.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "stages/shared/json_literal.h"  // the literals' helpers, for the scan's users

namespace sluice::stages::scan {

enum class Type : std::uint8_t { absent, null, json_false, json_true, number, string, object, array };

// The message members the transform reads.
enum Field : std::uint8_t {
    role,
    parent_id,
    model,
    content,
    output,
    files,
    sources,
    embeds,
    error,
    usage,
    status_history,
    done,
    timestamp,
    field_count
};

struct Value {
    Type type = Type::absent;
    bool empty = false;       // an object or array without members (falsy in Python)
    std::uint32_t begin = 0;  // raw JSON text: [begin, end) of the scanned document
    std::uint32_t end = 0;

    std::string_view raw(std::string_view doc) const { return doc.substr(begin, end - begin); }
};

struct Message {
    Value key;  // the member name, as a raw JSON string literal
    bool is_object = false;
    bool live = true;  // false when a later member with the same key replaced it
    Value fields[field_count];
};

enum class Outcome : std::uint8_t {
    ok,              // `messages` holds the messages of history.messages
    top_not_object,  // see `top` for what it was
    history_not_object,
    messages_not_object,
    unparsable,  // not JSON RapidJSON could read (see `error`)
};

struct Result {
    Outcome outcome = Outcome::ok;
    Value top;                      // the document's own value
    std::vector<Message> messages;  // in document order; the transform applies last-wins
    std::string error;              // for unparsable: RapidJSON's reason and the byte offset
};

// Scans `doc`. Lone UTF-16 surrogate escapes, which PostgreSQL's json type accepts and RapidJSON
// does not, are handled: offsets always refer to `doc`. `doc` must be followed by a NUL byte
// (PQgetvalue and std::string guarantee it). `work` is scratch space, reused.
// `strict`: for text PostgreSQL has not checked (the inside of a double-encoded chat, untrusted
// input): refuses every raw control character in strings. The fast path relies on the server:
// RapidJSON 1.1.0's SSE2 string scan lets 0x1A..0x1F through. Neither mode refuses bytes that
// are not UTF-8 inside strings (a SQL_ASCII database stores them): the caller checks the values
// it takes.
void scan_document(std::string_view doc, Result& result, std::string& work, bool strict = false);

// The two ways scan_document reads a document, for the test that holds them to the same results:
// the fast walk (stages/shared/json_walk.h), false when it declines the document, and RapidJSON alone.
bool scan_document_fast(std::string_view doc, Result& result);
void scan_document_rapidjson(std::string_view doc, Result& result, std::string& work, bool strict);

}  // namespace sluice::stages::scan
