// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "http/http_stats.hpp"

#include <boost/asio/ip/address.hpp>
#include <cstddef>
#include <mutex>
#include <unordered_map>

namespace ssehub::http {

/// Counts open TCP connections in total and per remote address. Every accepted connection
/// holds a slot until it closes, whether it became a stream or not; a slot taken past a
/// limit says so, and its connection is answered 429 and closed.
class connection_limiter {
public:
    connection_limiter(std::size_t total, std::size_t per_address, http_stats& stats)
        : total_(total), per_address_(per_address), stats_(stats) {}

    class slot {
    public:
        slot() = default;
        slot(const slot&) = delete;
        slot& operator=(const slot&) = delete;

        slot(slot&& other) noexcept { *this = std::move(other); }

        slot& operator=(slot&& other) noexcept {
            std::swap(owner_, other.owner_);
            std::swap(address_, other.address_);
            std::swap(over_, other.over_);
            return *this;
        }

        ~slot() {
            if (owner_ != nullptr) {
                owner_->release(address_);
            }
        }

        /// True when taking this slot passed a limit.
        bool over_limit() const noexcept { return over_; }

    private:
        friend class connection_limiter;
        connection_limiter* owner_ = nullptr;
        boost::asio::ip::address address_;
        bool over_ = false;
    };

    slot acquire(const boost::asio::ip::address& remote);

    /// Addresses counted now (with limits.connections_per_address): only those with an
    /// open connection, so the map never outgrows the connections.
    std::size_t addresses() const {
        std::lock_guard lock(mu_);
        return by_address_.size();
    }

private:
    void release(const boost::asio::ip::address& remote);

    std::size_t total_;
    std::size_t per_address_; ///< 0: no limit per address
    http_stats& stats_;
    mutable std::mutex mu_;
    std::unordered_map<boost::asio::ip::address, std::size_t> by_address_;
};

} // namespace ssehub::http
