// UTF-8 checks for text headed to PostgreSQL, whose text type takes valid UTF-8 without NUL bytes.
#pragma once

#include <cstddef>
#include <string_view>

namespace sluice::engine {

// Length of the valid UTF-8 sequence at s[0] (1..4), or 0 when it is not one. Surrogate code
// points (U+D800..U+DFFF, encoded as ED A0..BF xx) and overlong forms are not valid.
std::size_t utf8_sequence_length(std::string_view s);

// True when PostgreSQL's text type can store `s` in a UTF-8 database: valid UTF-8, no NUL byte.
bool storable_as_text(std::string_view s);

}  // namespace sluice::engine
