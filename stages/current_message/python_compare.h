// Python's operators on the values json.loads makes, for the parts of a Blob SPEC §6 compares:
// truthiness (`x or 0`), hashing (dict keys, `p in messages`), `==` and `>` (max of the leaves'
// times). bool is an int; int and float compare exactly; str by code point; list element by
// element; `>` across other types raises TypeError. kNone is Python's None. Thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "stages/current_message/python_json.h"

namespace sluice::stages::current_message {

bool py_truthy(const Blob& blob, std::uint32_t value);

// False for a list or dict (hashing one raises TypeError).
bool py_hashable(const Blob& blob, std::uint32_t value);

// Python's `a == b` as a container or dict lookup applies it (identity first: json.loads makes
// one NaN object, so NaN equals NaN there). Never raises.
bool py_equal(const Blob& blob, std::uint32_t a, std::uint32_t b);

// Python's `a > b`. When Python raises TypeError, returns false with `error` set to its message.
bool py_greater(const Blob& blob, std::uint32_t a, std::uint32_t b, std::string& error);

// Python's type name of a value, as its error messages give it ("int", "str", "NoneType").
const char* py_type_name(const Blob& blob, std::uint32_t value);

}  // namespace sluice::stages::current_message
