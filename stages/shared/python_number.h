// JSON numbers as upstream's Python sees them (SPEC §2): json.loads makes an integer literal an
// int and any other number a float; then int(float(t)) for timestamps, SQLAlchemy's Boolean for
// `done`, and psycopg2's literal of the value, read by PostgreSQL, for the text columns.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::stages {

// int(float(text)) for a JSON number's text (`is_string` false) or a string's decoded text.
// Empty when Python would raise (junk, inf, nan) or the value lies beyond 64 bits.
std::optional<std::int64_t> python_int_of_float(std::string_view text, bool is_string);

// The text a TEXT column receives when upstream binds the JSON number `number` to it. An
// integer literal is kept as written (`-0` is the int 0: "0"). Any other number is a float:
// psycopg2 sends repr(float) as a numeric literal, or 'Infinity'::float when it overflowed,
// and PostgreSQL stores numeric's text of that literal: "1E2" → "100.0", "1e20" → "1e+20" →
// "100000000000000000000", "1.5e-7" → "1.5e-07" → "0.00000015", "-0.0" → "0.0",
// "1e400" → "Infinity". Returns a view of `number` or of `storage`.
std::string_view python_number_text(std::string_view number, std::string& storage);

// What SQLAlchemy's Boolean makes of the JSON number `number` bound to `done`: a value equal to
// 0 or 1 (the int 0 or 1; a float that reads as 0.0 or 1.0: "0.0", "1e0", "-0", "1e-400")
// is false or true; empty for any other number, which upstream fails to insert.
std::optional<bool> python_number_as_bool(std::string_view number);

}  // namespace sluice::stages
