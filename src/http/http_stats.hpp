// SPDX-License-Identifier: Apache-2.0
#pragma once

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
    std::atomic<std::uint64_t> streams_opened{0};
    std::atomic<std::int64_t> open_connections{0}; ///< TCP connections of any kind
    std::atomic<std::int64_t> open_streams{0};     ///< sse_connections not finished yet
};

} // namespace ssehub::http
