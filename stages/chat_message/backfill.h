// The chat_message job's backfill phase: reads the ranges of chat its plan has left, K lanes at
// once, derives each chat's rows and writes them, committing its checkpoint with them; resumes
// where a stopped or killed run left off. The migrate command runs it as one of its phases.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "config/job_settings.h"
#include "engine/pg.h"
#include "engine/progress.h"
#include "stages/chat_message/checkpoint.h"

namespace sluice::stages {

// What one backfill did, and the checkpoint's totals after it.
struct BackfillReport {
    Checkpoint totals;          // cumulative over every run, as the checkpoint holds them
    std::uint64_t rejects = 0;  // the rejects table's rows at the end
    std::uint64_t chats_this_run = 0;
    std::uint64_t bytes_this_run = 0;
    std::uint64_t messages_this_run = 0;
    double seconds = 0;
    unsigned lanes = 0;
    std::size_t ranges_left = 0;  // ranges this run read
    bool resumed = false;
    bool already_complete = false;
    bool interrupted = false;
    std::string rejects_table;
    std::string primary_key;                 // what adding the build table's key did, if it was added
    std::uint64_t updated = 0, removed = 0;  // rows --resync updated and removed this run
};

// Runs the backfill on the current target (the schema phase has chosen it), with `control` for
// the plan and the checkpoint, and the lanes' own connections. Returns when every range is read
// or `stop` is set (then report.interrupted); throws TooManyRejectsError past --max-rejects and
// engine::PgError on a lost connection (a rerun resumes). `style` is the progress display's.
// `baseline`, when empty, is set to the checkpoint as the backfill found it (nothing committed
// after --resync or a new plan): the run's first attempt sets it, its retries keep it.
BackfillReport backfill(const config::JobSettings& cfg, engine::Connection& control, const std::atomic<bool>& stop,
                        engine::ProgressStyle style, std::optional<Checkpoint>& baseline);

}  // namespace sluice::stages
