// The pool of row buffers: what it keeps, what it gives back to the system.
#include <doctest/doctest.h>

#include <string>

#include "engine/buffer_pool.h"

using sluice::engine::BufferPool;

namespace {
std::string buffer_of(std::size_t capacity) {
    std::string b;
    b.reserve(capacity);
    b = "rows";
    return b;
}
}  // namespace

TEST_CASE("a buffer given back comes out empty with its capacity, up to the pool's count") {
    BufferPool pool(2, 1 << 20);
    pool.give(buffer_of(100 << 10));
    pool.give(buffer_of(200 << 10));
    pool.give(buffer_of(300 << 10));  // the pool is full: dropped
    std::string a = pool.take(), b = pool.take(), c = pool.take();
    CHECK_MESSAGE(a.empty(), "a kept buffer still holds its rows");
    CHECK_MESSAGE(a.capacity() >= (200 << 10), "the last buffer given back did not come out first");
    CHECK_MESSAGE(b.capacity() >= (100 << 10), "the first buffer given back was lost");
    CHECK_MESSAGE(c.capacity() < (64 << 10), "a third buffer came out of a pool of two");
}

TEST_CASE("a buffer larger than the pool's limit, or too small to matter, is not kept") {
    BufferPool pool(4, 1 << 20);
    pool.give(buffer_of(2 << 20));  // one huge chat's rows: back to the system
    pool.give(buffer_of(16));       // a batch without rows
    CHECK_MESSAGE(pool.take().capacity() < (64 << 10), "the pool kept a buffer it should have dropped");
}
