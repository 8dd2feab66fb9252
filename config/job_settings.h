// What a job's phases below the commands need of the run's configuration, and nothing else: the
// command builds it once (job_settings()), so that no function under it takes the whole RunConfig.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "config/run_config.h"

namespace sluice::config {

struct JobSettings {
    std::string db_url;  // may hold a password: never print it
    std::string schema;
    unsigned lanes = 1;
    unsigned parse_threads = 1;
    std::size_t fetch_rows = 0, batch_rows = 0, batch_bytes = 0;
    std::size_t max_inflight_batches = 0, max_inflight_bytes = 0;
    CommitInterval commit_interval;
    std::optional<std::uint64_t> max_rejects;
    bool resync = false;
    bool stamp_alembic = false;
    // The chats the reader selects, as the command's checks counted them just before (they count
    // chat for the banner): one lane's plan takes this count instead of counting again.
    std::optional<std::uint64_t> selected_chats;
};

inline JobSettings job_settings(const RunConfig& c) {
    JobSettings s;
    s.db_url = c.db_url;
    s.schema = c.schema;
    s.lanes = c.lanes;
    s.parse_threads = c.parse_threads;
    s.fetch_rows = c.fetch_rows;
    s.batch_rows = c.batch_rows;
    s.batch_bytes = c.batch_bytes;
    s.max_inflight_batches = c.max_inflight_batches;
    s.max_inflight_bytes = c.max_inflight_bytes;
    s.commit_interval = c.commit_interval;
    s.max_rejects = c.max_rejects;
    s.resync = c.resync;
    s.stamp_alembic = c.stamp_alembic;
    return s;
}

}  // namespace sluice::config
