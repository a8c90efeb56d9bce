// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <ssehub/types.hpp>
#include <vector>

namespace ssehub::core {

/// The recent events of one stream (a session's own, or a channel's), oldest first,
/// bounded in count and age. Not thread-safe: the hub's lock guards it.
class history {
public:
    struct limits {
        std::size_t events = 0;
        std::chrono::milliseconds age{0};
    };

    /// Appends `e` (its seq is above every seq held) and evicts past the count limit.
    void push(event_ptr e, const limits& lim);

    /// Evicts events accepted more than `lim.age` before `now`.
    void expire(clock::time_point now, const limits& lim);

    /// Appends the held events positioned after `seq` to `out`, oldest first. Returns false
    /// when the stream evicted an event positioned after `seq`: the caller missed something.
    bool collect_after(std::uint64_t seq, std::vector<event_ptr>& out) const;

    bool empty() const noexcept { return ring_.empty(); }

    std::size_t size() const noexcept { return ring_.size(); }

    std::size_t bytes() const noexcept { return bytes_; }

    /// Highest seq ever evicted, 0 when none.
    std::uint64_t evicted_through() const noexcept { return evicted_through_; }

    /// Position of the newest event, 0 when empty.
    std::uint64_t newest() const noexcept { return ring_.empty() ? 0 : ring_.back()->seq; }

private:
    void evict_front();

    std::deque<event_ptr> ring_;
    std::size_t bytes_ = 0;
    std::uint64_t evicted_through_ = 0;
};

} // namespace ssehub::core
