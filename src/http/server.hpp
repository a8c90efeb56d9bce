// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "http/auth.hpp"
#include "http/connection_limiter.hpp"
#include "http/http_stats.hpp"
#include "http/server_options.hpp"
#include "http/worker.hpp"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <optional>
#include <ssehub/error.hpp>
#include <ssehub/hub.hpp>
#include <vector>

namespace ssehub::actions {
class engine;
}

namespace ssehub::http {

/// The HTTP listener: accepts on worker 0's thread, up to max_accepts_per_wakeup at a time,
/// and hands each connection to the next worker in turn; a connection then lives on that
/// worker's thread for good.
class server {
public:
    /// `contexts[i]` is worker i's io_context, the same as the hub's shard i.
    server(server_options options, hub& h, actions::engine& engine,
           const std::vector<boost::asio::io_context*>& contexts);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Binds and listens; returns the address actually bound (port 0 picks a free one).
    /// With tls.listen set, also loads the certificate and opens the HTTPS listener.
    result<boost::asio::ip::tcp::endpoint> listen();

    /// The HTTPS listener's address, after listen(); nothing when tls.listen is not set.
    std::optional<boost::asio::ip::tcp::endpoint> tls_endpoint() const { return tls_bound_; }

    /// Starts accepting and the workers' timers. Call after listen().
    void start();

    /// Stops accepting new connections; marks the server draining (readyz answers 503).
    /// Thread-safe.
    void stop_accepting();

    /// Shutdown, once no stream is left: each TLS tunnel closes when it has forwarded all
    /// its session wrote (http_stats::open_tunnels counts those still open). Thread-safe.
    void drain_tunnels();

    /// Stops the workers' timers, so their io_contexts can run out. Thread-safe. After it
    /// and stop_accepting() have run, the server owns no I/O object: its io_contexts may be
    /// destroyed before it.
    void stop_timers();

    /// Destroys the acceptor and the workers' timers. Only once every worker thread has
    /// stopped: after it the server owns no I/O object, so its io_contexts may be destroyed
    /// before it.
    void release_io_objects();

    bool draining() const noexcept { return draining_.load(std::memory_order_relaxed); }

    const server_options& options() const noexcept { return options_; }

    hub& get_hub() noexcept { return hub_; }

    actions::engine& get_engine() noexcept { return engine_; }

    connection_limiter& limiter() noexcept { return limiter_; }

    http_stats& stats() noexcept { return stats_; }

    const authenticator& auth() const noexcept { return auth_; }

    /// For a harness that routes requests without listen(), which loads the credentials.
    authenticator& auth() noexcept { return auth_; }

    rate_limiter& publish_rate() noexcept { return publish_rate_; }

    /// Connections one wake-up of the acceptor takes before it lets the thread's other
    /// work run.
    static constexpr std::size_t max_accepts_per_wakeup = 64;

private:
    void accept_next();
    /// Sends an accepted connection, opened on `target`'s io_context, to that worker.
    void hand_over(worker& target, boost::asio::ip::tcp::socket socket);
    void accept_next_tls();
    result<void> listen_tls();

    server_options options_;
    hub& hub_;
    actions::engine& engine_;
    http_stats stats_;
    connection_limiter limiter_;
    authenticator auth_;
    rate_limiter publish_rate_;
    std::vector<std::unique_ptr<worker>> workers_;
    std::optional<boost::asio::ip::tcp::acceptor> acceptor_; ///< reset once closed
    std::optional<boost::asio::ssl::context> tls_context_;
    std::optional<boost::asio::ip::tcp::acceptor> tls_acceptor_; ///< tls.listen; reset once closed
    std::optional<boost::asio::ip::tcp::endpoint> tls_bound_;
    std::size_t next_tls_worker_ = 0;
    std::size_t next_worker_ = 0;
    std::atomic<bool> draining_{false};
};

} // namespace ssehub::http
