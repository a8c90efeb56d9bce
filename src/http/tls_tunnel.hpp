// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "http/http_stats.hpp"

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>

namespace ssehub::http {

/// The direct HTTPS listener's half of a connection (tls.listen). It completes the TLS
/// handshake with the client, then carries bytes both ways between the TLS stream and one
/// end of a local socket pair whose other end an ordinary http_session serves, as if the
/// client had connected in clear. HTTP parsing, streams, limits and timeouts stay in one
/// place; the price is one copy of each byte through the pair.
///
/// Thread: lives on its worker's io_context, like the session it feeds. It keeps itself
/// alive through its pending operations and closes both sides when either one ends.
///
/// Shutdown: a stream's last bytes may still sit in the pair when the stream itself has
/// finished, so the hub waits for every tunnel (http_stats::open_tunnels) after its streams,
/// and drain() closes each one once nothing is left in it to forward to the client.
class tls_tunnel : public std::enable_shared_from_this<tls_tunnel> {
public:
    using plain_socket = boost::asio::local::stream_protocol::socket;
    /// Called once the handshake succeeded, with the end of the pair to serve.
    using ready_handler = std::function<void(plain_socket)>;

    tls_tunnel(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context& context,
               std::chrono::milliseconds handshake_timeout, std::chrono::milliseconds write_timeout,
               http_stats& stats);
    ~tls_tunnel();
    tls_tunnel(const tls_tunnel&) = delete;
    tls_tunnel& operator=(const tls_tunnel&) = delete;

    void start(ready_handler on_ready);

    /// Closes the tunnel as soon as all the session wrote has gone to the client (at once
    /// when nothing is pending). On its own thread.
    void drain();

private:
    void pump_from_client();
    void pump_to_client();
    bool idle();
    void close();

    boost::asio::ssl::stream<boost::asio::ip::tcp::socket> tls_;
    plain_socket inner_;
    boost::asio::steady_timer deadline_; ///< the handshake, then each write to the client
    std::chrono::milliseconds handshake_timeout_;
    std::chrono::milliseconds write_timeout_;
    std::array<char, 16 * 1024> from_client_{};
    std::array<char, 16 * 1024> to_client_{};
    http_stats& stats_;
    bool closed_ = false;
    bool writing_ = false;  ///< bytes read from the pair are on their way to the client
    bool draining_ = false; ///< drain() was called: close once idle
};

} // namespace ssehub::http
