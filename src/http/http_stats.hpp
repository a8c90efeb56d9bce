// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace ssehub::http {

/// Counters of the HTTP layer, read by /metrics. Relaxed atomics.
struct http_stats {
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> errors{0};        ///< requests answered with 4xx or 5xx
    std::atomic<std::uint64_t> refused_limit{0}; ///< connection limits hit (429)
    std::atomic<std::uint64_t> slow_consumer_disconnects{0};
    std::atomic<std::uint64_t> write_timeouts{0};
    std::atomic<std::uint64_t> request_timeouts{0}; ///< heads or bodies too slow (408)
    std::atomic<std::uint64_t> streams_opened{0};
    std::atomic<std::int64_t> open_connections{0}; ///< TCP connections of any kind
    std::atomic<std::int64_t> open_streams{0};     ///< sse_connections not finished yet
    std::atomic<std::int64_t> open_tunnels{0};     ///< TLS connections (tls_tunnel) alive

    /// Requests refused, by status: the statuses of refusal_statuses, then any other.
    std::array<std::atomic<std::uint64_t>, 12> refusals{};
};

/// The statuses /metrics reports refusals for, one counter each.
inline constexpr std::array<unsigned, 11> refusal_statuses{400, 401, 403, 404, 405, 408,
                                                           413, 429, 431, 503, 500};

/// Counts one refused request under its status.
inline void count_refusal(http_stats& stats, unsigned status) {
    std::size_t i = 0;
    while (i < refusal_statuses.size() && refusal_statuses[i] != status) {
        ++i;
    }
    stats.refusals[i].fetch_add(1, std::memory_order_relaxed);
}

} // namespace ssehub::http
