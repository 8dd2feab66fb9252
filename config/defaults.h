// The defaults of the run configuration, each written once: RunConfig's initialisers, build()'s
// defaults that follow the cores and the lanes, --help's "default:" texts and the stages'
// settings structs all read them here.
#pragma once

#include <chrono>
#include <cstddef>

namespace sluice::config::defaults {

inline constexpr std::size_t kFetchRows = 1000;                        // chats per FETCH
inline constexpr std::size_t kBatchRows = 1000;                        // chats per batch
inline constexpr std::size_t kBatchBytes = std::size_t{2} << 20;       // chat JSON that closes a batch
inline constexpr std::size_t kLanesBatchBytes = std::size_t{1} << 20;  // the same with more than one lane
inline constexpr std::size_t kMaxInflightBytes = std::size_t{24} << 20;
inline constexpr std::size_t kMaxInflightBatches = 16;
inline constexpr std::size_t kInflightBatchesPerLane = 4;  // with more than one lane, at least this many each
inline constexpr std::chrono::seconds kCommitEvery{5};
inline constexpr std::size_t kCommitBytes = std::size_t{4} << 20;
inline constexpr unsigned kConnectRetries = 5;
inline constexpr std::chrono::seconds kRetryMaxWait{30};
// The defaults that follow the cores: a quarter of them parse, half of them are lanes, each index
// gets a connection; at most these.
inline constexpr unsigned kParseThreadsAtMost = 8;
inline constexpr unsigned kLanesAtMost = 8;
inline constexpr unsigned kIndexConnectionsAtMost = 7;

}  // namespace sluice::config::defaults
