// SPDX-License-Identifier: Apache-2.0
#include "http/connection_limiter.hpp"

namespace ssehub::http {

connection_limiter::slot connection_limiter::acquire(const boost::asio::ip::address& remote) {
    slot s;
    s.owner_ = this;
    s.address_ = remote;
    const auto open = stats_.open_connections.fetch_add(1, std::memory_order_relaxed) + 1;
    if (static_cast<std::size_t>(open) > total_) {
        s.over_ = true;
    }
    if (per_address_ > 0) {
        std::lock_guard lock(mu_);
        if (++by_address_[remote] > per_address_) {
            s.over_ = true;
        }
    }
    return s;
}

void connection_limiter::release(const boost::asio::ip::address& remote) {
    stats_.open_connections.fetch_sub(1, std::memory_order_relaxed);
    if (per_address_ == 0) {
        return;
    }
    std::lock_guard lock(mu_);
    auto it = by_address_.find(remote);
    if (it != by_address_.end() && --it->second == 0) {
        by_address_.erase(it);
    }
}

} // namespace ssehub::http
