// Python's int(float(x)), which upstream applies to message timestamps (SPEC §2): the grammar
// of float() for strings, Unicode digits and spaces included, and truncation toward zero.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice::stages {

// int(float(text)) for a JSON number's text (`is_string` false) or a string's decoded text.
// Empty when Python would raise (junk, inf, nan) or the value lies beyond 64 bits.
std::optional<std::int64_t> python_int_of_float(std::string_view text, bool is_string);

}  // namespace sluice::stages
