// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <ssehub/types.hpp>
#include <utility>
#include <vector>

namespace ssehub::core {

class history_budget;

/// The recent events of one stream (a session's own, or a channel's), oldest first,
/// bounded in count and age, and by the budget it is charged to, if any. Not thread-safe:
/// the hub's lock guards it and its budget.
class history {
public:
    struct limits {
        std::size_t events = 0;
        std::chrono::milliseconds age{0};
    };

    history() = default;

    /// Charges every event held to `budget`, which must outlive the ring.
    explicit history(history_budget* budget) : budget_(budget) {}

    ~history();
    history(const history&) = delete;
    history& operator=(const history&) = delete;

    /// Appends `e` (its seq is above every seq held) and evicts past the count limit. The
    /// budget is not enforced here: the caller does it once the event is placed.
    void push(event_ptr e, const limits& lim);

    /// Evicts events accepted more than `lim.age` before `now`.
    void expire(clock::time_point now, const limits& lim);

    /// Appends the held events positioned after `seq` to `out`, oldest first. Returns false
    /// when the stream evicted an event positioned after `seq`: the caller missed something.
    bool collect_after(std::uint64_t seq, std::vector<event_ptr>& out) const;

    bool empty() const noexcept { return !ring_; }

    std::size_t size() const noexcept { return ring_ ? ring_->size() : 0; }

    /// Bytes of the encoded events held.
    std::size_t bytes() const noexcept { return bytes_; }

    /// Highest seq ever evicted, 0 when none.
    std::uint64_t evicted_through() const noexcept { return evicted_through_; }

    /// Position of the newest event, 0 when empty.
    std::uint64_t newest() const noexcept { return ring_ ? ring_->back()->seq : 0; }

    /// Declares every event up to `seq` lost to this stream: a ring that replaces one that
    /// was dropped with events in it.
    void lost_through(std::uint64_t seq) noexcept {
        evicted_through_ = std::max(evicted_through_, seq);
    }

    /// Position of the oldest event, 0 when empty.
    std::uint64_t oldest() const noexcept { return ring_ ? ring_->front()->seq : 0; }

private:
    friend class history_budget;

    // Reports the change of front and size since `old_oldest` / `old_charge` to the budget.
    void changed(std::uint64_t old_oldest, std::size_t old_charge);
    std::size_t charge() const noexcept;
    void evict_front();

    // Allocated with the first event and freed with the last: a std::deque allocates its
    // first block even when empty, and most streams (sessions, quiet channels) hold nothing.
    std::unique_ptr<std::deque<event_ptr>> ring_;
    std::size_t bytes_ = 0;
    std::uint64_t evicted_through_ = 0;
    history_budget* budget_ = nullptr;
};

/// One byte budget over many rings (`history.max_bytes`): past it, the ring that holds the
/// oldest event gives it up, then the next oldest, so the hub's history memory stays
/// bounded however many streams exist. Each event is charged its encoded size plus a fixed
/// overhead for its bookkeeping, so many small events cannot slip past the bound.
class history_budget {
public:
    /// Bookkeeping charged per event on top of its bytes: the shared event, its control
    /// block and the ring's slot, as measured with glibc on x86-64 (rounded up).
    static constexpr std::size_t event_overhead = 128;

    explicit history_budget(std::size_t max_bytes) : max_bytes_(max_bytes) {}

    history_budget(const history_budget&) = delete;
    history_budget& operator=(const history_budget&) = delete;

    /// Evicts oldest-first until the charge is within the budget. Returns the number of
    /// events evicted.
    std::size_t enforce();

    std::size_t charged() const noexcept { return charged_; }

    std::size_t max_bytes() const noexcept { return max_bytes_; }

    /// Rings holding at least one event.
    std::size_t rings() const noexcept { return fronts_.size(); }

private:
    friend class history;

    void update(history& h, std::uint64_t old_oldest, std::size_t old_charge);

    std::size_t max_bytes_;
    std::size_t charged_ = 0;
    std::set<std::pair<std::uint64_t, history*>> fronts_; ///< (oldest seq, ring), non-empty rings
};

} // namespace ssehub::core
