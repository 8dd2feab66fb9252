// What `migrate` says before it changes anything: where it connects (host, port, database,
// schema, user; never the password), the server's version, the chat table's size and chats, the
// phases it will run, its threads, where the rejects go, and the preflight's estimates and
// warnings (stages/commands/check.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "engine/pg.h"
#include "stages/commands/check_result.h"

namespace sluice::stages {

struct TargetFacts {
    std::string host, port, database, user, server_version;
    bool chat = false;                           // <schema>.chat exists and could be read
    bool counted = false;                        // the figures below are counted, not the catalog's estimate
    std::string locked_by;                       // who keeps chat from being read now (then not counted)
    std::uint64_t chats = 0, chat_bytes = 0;     // every row; pg_total_relation_size
    std::uint64_t shared = 0, without_user = 0;  // the rows the reader leaves out by design
};

// Asks the server on `conn`, which it makes read-only (the preflight's, once its checks are
// done): one count over chat (the heap, not the JSON). A chat table that is missing or cannot be
// read leaves `chat` false: the preflight says why. One that another session locks
// (engine::exclusive_locker) is not waited for: the catalog's estimates stand in. Throws
// engine::PgError when it loses the connection or is stopped.
TargetFacts read_target_facts(const config::RunConfig& config, engine::Connection& conn);

// The banner's lines: the facts, the plan, and the preflight's estimates and warnings, broken at
// spaces to fit `width` columns (80, or a narrower terminal's).
std::string banner_text(const config::RunConfig& config, const TargetFacts& facts,
                        const std::vector<CheckResult>& checks, std::size_t width = 80);

// Reports the banner to the width of the terminal on stdout, each check's warning through
// engine::log::report_warning: -q keeps it, and the log file has it at level warning.
void report_banner(const config::RunConfig& config, const TargetFacts& facts, const std::vector<CheckResult>& checks);

}  // namespace sluice::stages
