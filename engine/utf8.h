// UTF-8 checks for text headed to PostgreSQL, whose text type takes valid UTF-8 without NUL bytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice::engine {

// Length of the valid UTF-8 sequence at s[0] (1..4), or 0 when it is not one. Surrogate code
// points (U+D800..U+DFFF, encoded as ED A0..BF xx) and overlong forms are not valid.
std::size_t utf8_sequence_length(std::string_view s);

// True when `s` is valid UTF-8 (NUL bytes allowed): what a UTF-8 connection lets through.
bool valid_utf8(std::string_view s);

// True when PostgreSQL's text type can store `s` in a UTF-8 database: valid UTF-8, no NUL byte.
bool storable_as_text(std::string_view s);

// Appends the JSON text `json` with each byte that is not part of valid UTF-8 written as the
// escape \u00XX (the byte read as Latin-1, as append_json_string writes a stray byte): the
// result is valid UTF-8 that PostgreSQL's json type accepts. Such bytes can only stand inside
// string literals, where an escape is allowed. For the rows of rejects from non-UTF-8 sources.
void append_json_escaping_invalid_utf8(std::string& out, std::string_view json);

}  // namespace sluice::engine
