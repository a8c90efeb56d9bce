// SPDX-License-Identifier: Apache-2.0
#include "core/history.hpp"

#include <algorithm>

namespace ssehub::core {

history::~history() {
    if (budget_ != nullptr && ring_) {
        const auto old_oldest = oldest();
        const auto old_charge = charge();
        ring_.reset();
        bytes_ = 0;
        budget_->update(*this, old_oldest, old_charge);
    }
}

void history::push(event_ptr e, const limits& lim) {
    const auto old_oldest = oldest();
    const auto old_charge = charge();
    if (lim.events == 0) {
        evicted_through_ = e->seq;
        return;
    }
    bytes_ += e->bytes.size();
    if (!ring_) {
        ring_ = std::make_unique<std::deque<event_ptr>>();
    }
    ring_->push_back(std::move(e));
    while (ring_->size() > lim.events) {
        evict_front();
    }
    changed(old_oldest, old_charge);
}

void history::expire(clock::time_point now, const limits& lim) {
    const auto old_oldest = oldest();
    const auto old_charge = charge();
    const auto oldest_kept = now - lim.age;
    while (ring_ && ring_->front()->at < oldest_kept) {
        evict_front();
    }
    changed(old_oldest, old_charge);
}

bool history::collect_after(std::uint64_t seq, std::vector<event_ptr>& out) const {
    if (ring_) {
        const auto first =
            std::upper_bound(ring_->begin(), ring_->end(), seq,
                             [](std::uint64_t s, const event_ptr& e) { return s < e->seq; });
        out.insert(out.end(), first, ring_->end());
    }
    return evicted_through_ <= seq;
}

void history::changed(std::uint64_t old_oldest, std::size_t old_charge) {
    if (budget_ != nullptr) {
        budget_->update(*this, old_oldest, old_charge);
    }
}

std::size_t history::charge() const noexcept {
    return bytes_ + size() * history_budget::event_overhead;
}

void history::evict_front() {
    bytes_ -= ring_->front()->bytes.size();
    evicted_through_ = ring_->front()->seq;
    ring_->pop_front();
    if (ring_->empty()) {
        ring_.reset();
    }
}

void history_budget::update(history& h, std::uint64_t old_oldest, std::size_t old_charge) {
    charged_ = charged_ - old_charge + h.charge();
    const auto now_oldest = h.oldest();
    if (now_oldest == old_oldest) {
        return;
    }
    if (old_oldest != 0) {
        fronts_.erase({old_oldest, &h});
    }
    if (now_oldest != 0) {
        fronts_.emplace(now_oldest, &h);
    }
}

std::size_t history_budget::enforce() {
    std::size_t evicted = 0;
    while (charged_ > max_bytes_ && !fronts_.empty()) {
        history& h = *fronts_.begin()->second;
        const auto old_oldest = h.oldest();
        const auto old_charge = h.charge();
        h.evict_front();
        update(h, old_oldest, old_charge);
        ++evicted;
    }
    return evicted;
}

} // namespace ssehub::core
