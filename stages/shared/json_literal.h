// JSON literals as Python reads them: a number's truthiness, a string literal decoded (with the
// choice of what a lone surrogate becomes), and the \uXXXX pieces the scan also needs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::stages::scan {

// RapidJSON's SSE2 whitespace skip reads whole aligned 16-byte blocks: never across a page, but
// past the end of the text. Buffers sluice owns keep that much room after the terminator.
constexpr std::size_t kSimdSlack = 16;

// Python's truthiness of a JSON number given as text ("0", "-0.0", "0e5", "1e-400" are falsy).
bool number_is_truthy(std::string_view number);

// How a lone UTF-16 surrogate escape is decoded: kept as its \uXXXX escape (the result is
// JSON text, as in a double-encoded chat), or as its 3-byte generalized UTF-8 form, which is
// exact, fails storable_as_text, and append_json_string turns back into the escape.
enum class LoneSurrogate : std::uint8_t { keep_escape, generalized_utf8 };

// Decodes the JSON string literal `literal` (quotes included) into `out`. False when malformed.
bool decode_string_literal(std::string_view literal, std::string& out, LoneSurrogate lone);

// The decoded text of a string literal: a view into the literal itself when it holds no escape,
// else decoded into `storage` (lone surrogates in generalized UTF-8).
std::string_view string_text(std::string_view literal, std::string& storage);

// Four hex digits of `s` at `at` as a code unit; false when they are not there.
bool hex4(std::string_view s, std::size_t at, unsigned& code);
// UTF-16 surrogates: a high one (\uD800-\uDBFF) must be followed by a low one (\uDC00-\uDFFF).
bool is_high_surrogate(unsigned c);
bool is_low_surrogate(unsigned c);

}  // namespace sluice::stages::scan
