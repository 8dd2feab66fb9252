// The option table: each option of sluice declared once, with the commands it applies to, its
// argument, its default and help as --help shows them, and how it is applied to a RunConfig.
// Internal to config/: run_config.cpp reads the sources with it, help_text.cpp lists it.
#pragma once

#include <string>
#include <vector>

#include "config/option_values.h"
#include "config/run_config.h"

namespace sluice::config {

// The commands an option applies to, as a set of bits.
constexpr unsigned of(Command c) {
    return 1u << static_cast<unsigned>(c);
}
constexpr unsigned kEvery = of(Command::migrate) | of(Command::check) | of(Command::verify) | of(Command::rejects) |
                            of(Command::cleanup) | of(Command::status);

struct OptionSpec {
    const char* name;
    unsigned commands;     // of() the commands it applies to
    const char* argument;  // as --help shows it; empty for a flag
    std::string fallback;  // the default, as --help shows it (from config/defaults.h where it is a value)
    const char* help;
    void (*apply)(RunConfig&, const Setting&);
    char letter = 0;  // the one-letter form on the command line ("-v"), if it has one
};

// Every option, in the order --help lists them.
const std::vector<OptionSpec>& option_specs();

// "SLUICE_BATCH_ROWS" for "batch-rows".
std::string env_name(const std::string& option);

}  // namespace sluice::config
