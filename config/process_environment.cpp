// The process's own environment (declared in config/run_config.h): what main hands to parse().
#include "config/run_config.h"

#include <cstdlib>

extern char** environ;  // POSIX: the only way to list the variables, for the misspelling check

namespace sluice::config {

Environment process_environment() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* value = std::getenv(name.c_str());
        return value ? std::optional<std::string>(value) : std::nullopt;
    };
}

std::vector<std::string> process_environment_names() {
    std::vector<std::string> names;
    for (char** variable = environ; variable && *variable; ++variable) {
        const std::string entry = *variable;
        names.push_back(entry.substr(0, entry.find('=')));
    }
    return names;
}

}  // namespace sluice::config
