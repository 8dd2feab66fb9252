// One check's outcome, as the preflight's checks (stages/commands/preflight.h, server_checks.h)
// return it and the banner reports it.
#pragma once

#include <string>

namespace sluice::stages {

enum class Verdict { ok, skipped, warning, failed };

// One check's outcome: one line of `sluice check`.
struct CheckResult {
    std::string name;  // one word: "server", "pooler", "chat", "chat_message", "privileges", "lock", ...
    Verdict verdict = Verdict::ok;
    std::string detail;  // one line: what was found; for a failure, also what to do
};

// The lanes and the index connections a migrate opens: as configured, or fewer where the
// connection limits leave no room for them (the "connections" check says so).
struct ConnectionFit {
    unsigned lanes = 1;
    unsigned index_connections = 1;
};

}  // namespace sluice::stages
