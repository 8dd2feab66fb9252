// What the configuration's parts share: the error they report bad usage with, and the environment
// they read (injected, so that tests need no real one).
#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

namespace sluice::config {

// Bad usage or configuration; main prints what() as one line and exits with status 2.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Looks up an environment variable; empty optional when unset. Injected so tests need no real environment.
using Environment = std::function<std::optional<std::string>(const std::string& name)>;

}  // namespace sluice::config
