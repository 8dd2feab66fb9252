// What a job gives the pipeline for each lane: a reader and a writer of its own, and the kinds of
// batch they pass. A batch type must carry `kind` and `seq` (its number in its lane's reader order).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

namespace sluice::engine {

// End of stream is a batch of its own, never inferred from an empty one. A flush batch asks
// the writer to commit what it holds: the reader sends one before it waits for budget. A
// range_end batch says the reader has read one part of its input (a key range) to its end.
enum class BatchKind : std::uint8_t { data, flush, range_end, end };

// One lane: a reader and a writer of its own, in its own order. The transform is the run's.
template <typename Batch>
struct Lane {
    std::function<std::unique_ptr<Batch>()> read;  // the lane's next batch; its last is of kind end
    std::function<void(Batch&)> write;             // once per batch of the lane, in the lane's `seq` order
};

}  // namespace sluice::engine
