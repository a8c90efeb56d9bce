// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "http/http_stats.hpp"
#include "http/sse_connection.hpp"
#include "http/tls_tunnel.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

namespace ssehub::http {

/// One worker thread's share of the server: its io_context (also the hub's shard of the
/// same index) and the streams that live on it. One timer per worker, not per stream,
/// drives keep-alives and write timeouts. Used on its own thread only.
class worker {
public:
    worker(std::size_t index, boost::asio::io_context& ioc, stream_settings settings,
           http_stats& stats);

    http_stats& stats() noexcept { return stats_; }

    std::size_t index() const noexcept { return index_; }

    boost::asio::io_context& context() noexcept { return ioc_; }

    const stream_settings& settings() const noexcept { return settings_; }

    void add(sse_connection& c);
    void remove(sse_connection& c);

    std::size_t streams() const noexcept { return streams_.size(); }

    /// A TLS tunnel living on this worker, for drain_tunnels().
    void add_tunnel(const std::shared_ptr<tls_tunnel>& t);

    /// Shutdown, once the streams are done: every tunnel closes when it has nothing left
    /// to forward.
    void drain_tunnels();

    void start_timer();
    void stop_timer();

private:
    void arm();
    void on_tick();

    std::size_t index_;
    boost::asio::io_context& ioc_;
    stream_settings settings_;
    http_stats& stats_;
    std::chrono::milliseconds period_;
    std::optional<boost::asio::steady_timer> timer_; ///< reset by stop_timer()
    std::vector<sse_connection*> streams_;
    std::vector<std::weak_ptr<tls_tunnel>> tunnels_;
    std::size_t tunnels_swept_at_ = 16; ///< size at which tunnels_ is next swept
    bool tunnels_drained_ = false;      ///< drain_tunnels() ran: the server is stopping
    bool stopped_ = false;
};

} // namespace ssehub::http
