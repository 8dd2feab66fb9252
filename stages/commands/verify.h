// `sluice verify`: migrate's reader and transform derive, from `chat`, the rows chat_message
// should hold; a serial compare stage, in the writer's place, checks them batch by batch against
// what the table holds (ids per chat, missing and unexpected rows, a sample compared column by
// column) and the reject file accounts for the rows that could not be stored. It never writes.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include "config/run_config.h"
#include "stages/commands/run_summary.h"

namespace sluice::stages {

// The sample compared column by column: the first expected row and every 50th after it, in
// reader order (chats by id, messages in document order). Fixed, so a rerun compares the same rows.
inline constexpr std::uint64_t kVerifySampleEvery = 50;

// Runs the comparison, prints the report and puts its counts in `summary`. Returns 0 when
// chat_message agrees with chat, config::kExitDisagrees when it does not, kExitInterrupted when
// stopped by a signal; throws LockHeldError while a migrate holds the run's lock (its table is
// work in progress), and on failure (main turns the exception into one line and its status).
// Needs only SELECT (and sluice's tables only where they exist). `stop` is set by signals.
int verify(const config::RunConfig& config, const std::atomic<bool>& stop, RunSummary& summary);

}  // namespace sluice::stages
