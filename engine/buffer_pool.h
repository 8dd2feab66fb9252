// Byte buffers kept for reuse between batches. A buffer's memory, once written, stays in the
// process; a new one costs a page fault for each 4 KiB it fills (on a virtual machine the largest
// part of sluice's CPU per message, measured). Thread-safe: batches are filled on the parse
// threads and dropped on the writers'. Bounded: it keeps at most `max_buffers` buffers of at most
// `max_capacity` bytes each, so that one huge record's buffer is given back to the system.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

namespace sluice::engine {

class BufferPool {
public:
    BufferPool(std::size_t max_buffers, std::size_t max_capacity)
        : max_buffers_(max_buffers), max_capacity_(max_capacity) {}

    // An empty buffer: one given back, with its capacity, or a new one.
    std::string take() {
        std::lock_guard<std::mutex> lock(mutex_);
        if (kept_.empty()) return {};
        std::string buffer = std::move(kept_.back());
        kept_.pop_back();
        return buffer;
    }
    // Keeps `buffer` for a later take(), unless the pool is full or the buffer too large, or too
    // small to be worth keeping (a batch without rows).
    void give(std::string&& buffer) {
        if (buffer.capacity() > max_capacity_ || buffer.capacity() < kSmallest) return;
        buffer.clear();
        std::lock_guard<std::mutex> lock(mutex_);
        if (kept_.size() < max_buffers_) kept_.push_back(std::move(buffer));
    }

private:
    static constexpr std::size_t kSmallest = 64 << 10;
    const std::size_t max_buffers_;
    const std::size_t max_capacity_;
    std::mutex mutex_;
    std::vector<std::string> kept_;
};

}  // namespace sluice::engine
