// SPDX-License-Identifier: Apache-2.0
#include "core/history.hpp"

#include <algorithm>

namespace ssehub::core {

void history::push(event_ptr e, const limits& lim) {
    if (lim.events == 0) {
        evicted_through_ = e->seq;
        return;
    }
    bytes_ += e->bytes.size();
    ring_.push_back(std::move(e));
    while (ring_.size() > lim.events) {
        evict_front();
    }
}

void history::expire(clock::time_point now, const limits& lim) {
    const auto oldest_kept = now - lim.age;
    while (!ring_.empty() && ring_.front()->at < oldest_kept) {
        evict_front();
    }
}

bool history::collect_after(std::uint64_t seq, std::vector<event_ptr>& out) const {
    const auto first =
        std::upper_bound(ring_.begin(), ring_.end(), seq,
                         [](std::uint64_t s, const event_ptr& e) { return s < e->seq; });
    out.insert(out.end(), first, ring_.end());
    return evicted_through_ <= seq;
}

void history::evict_front() {
    bytes_ -= ring_.front()->bytes.size();
    evicted_through_ = ring_.front()->seq;
    ring_.pop_front();
}

} // namespace ssehub::core
