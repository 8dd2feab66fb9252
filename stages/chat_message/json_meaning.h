// JSON compared by meaning: what verify needs to accept rows written by upstream's Python
// migration (json.dumps spacing and escapes) as equal to what sluice derives.
#pragma once

#include <string_view>

namespace sluice::stages {

// Whether two JSON texts mean the same value as Python's json module reads them: same structure,
// strings equal once decoded, numbers of equal value, object members in the same order, a repeated
// key counting once, at its first place, with its last value. Whitespace and escapes do not
// matter. False when either text is not JSON. Thread-safe (no shared state).
bool same_json_meaning(std::string_view a, std::string_view b);

}  // namespace sluice::stages
