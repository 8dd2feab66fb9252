// More rejected messages than --max-rejects allows: migrate stops (nothing past the limit is
// committed) and main exits with config::kExitTooManyRejects, so that a script can tell it from
// a failed phase.
#pragma once

#include <stdexcept>

namespace sluice::stages {

struct TooManyRejectsError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace sluice::stages
