// The phases of `migrate` and their names: the one table that the options, the banner, the check,
// the display and the summary read. Here, below the jobs, because the configuration parses them.
#pragma once

#include <cstddef>
#include <iterator>

namespace sluice::config {

// The phases of `migrate`, in the order they run.
enum class Phase { schema, backfill, indexes, constraints, publish };

struct PhaseName {
    Phase phase;
    const char* name;
};

// Every phase, in the order they run (Phase's order).
inline constexpr PhaseName kPhases[] = {{Phase::schema, "schema"},
                                        {Phase::backfill, "backfill"},
                                        {Phase::indexes, "indexes"},
                                        {Phase::constraints, "constraints"},
                                        {Phase::publish, "publish"}};

inline const char* phase_name(Phase phase) {
    return kPhases[static_cast<std::size_t>(phase)].name;
}

}  // namespace sluice::config
