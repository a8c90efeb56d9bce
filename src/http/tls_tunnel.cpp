// SPDX-License-Identifier: Apache-2.0
#include "http/tls_tunnel.hpp"

#include "core/log.hpp"

#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/write.hpp>

namespace ssehub::http {

namespace asio = boost::asio;
using error_code = boost::system::error_code;

tls_tunnel::tls_tunnel(asio::ip::tcp::socket socket, asio::ssl::context& context,
                       std::chrono::milliseconds handshake_timeout,
                       std::chrono::milliseconds write_timeout, http_stats& stats)
    : tls_(std::move(socket), context), inner_(tls_.get_executor()), deadline_(tls_.get_executor()),
      handshake_timeout_(handshake_timeout), write_timeout_(write_timeout), stats_(stats) {
    stats_.open_tunnels.fetch_add(1, std::memory_order_relaxed);
}

tls_tunnel::~tls_tunnel() {
    stats_.open_tunnels.fetch_sub(1, std::memory_order_relaxed);
}

void tls_tunnel::drain() {
    draining_ = true;
    if (idle()) {
        close();
    }
}

bool tls_tunnel::idle() {
    if (writing_) {
        return false;
    }
    // What the session wrote and this side has not read yet.
    error_code ec;
    const auto waiting = inner_.is_open() ? inner_.available(ec) : 0;
    return ec || waiting == 0;
}

void tls_tunnel::start(ready_handler on_ready) {
    // A client that never finishes its handshake is cut off like a slow request head.
    deadline_.expires_after(handshake_timeout_);
    deadline_.async_wait([self = shared_from_this()](const error_code& ec) {
        if (!ec) {
            self->close();
        }
    });

    tls_.async_handshake(
        asio::ssl::stream_base::server,
        [self = shared_from_this(), on_ready = std::move(on_ready)](const error_code& ec) {
            self->deadline_.cancel();
            if (ec || self->closed_) {
                core::logger("http")->debug("tls handshake failed: {}", ec.message());
                self->close();
                return;
            }
            plain_socket outer(self->tls_.get_executor());
            error_code pair_ec;
            asio::local::connect_pair(self->inner_, outer, pair_ec);
            if (pair_ec) {
                core::logger("http")->error("tls socket pair failed: {}", pair_ec.message());
                self->close();
                return;
            }
            on_ready(std::move(outer));
            self->pump_from_client();
            self->pump_to_client();
        });
}

void tls_tunnel::pump_from_client() {
    tls_.async_read_some(asio::buffer(from_client_), [self = shared_from_this()](
                                                         const error_code& ec, std::size_t n) {
        if (ec || self->closed_) {
            // The client left: the session reads EOF once the pair is closed.
            self->close();
            return;
        }
        asio::async_write(self->inner_, asio::buffer(self->from_client_.data(), n),
                          [self](const error_code& wec, std::size_t) {
                              if (wec || self->closed_) {
                                  self->close();
                                  return;
                              }
                              self->pump_from_client();
                          });
    });
}

void tls_tunnel::pump_to_client() {
    inner_.async_read_some(
        asio::buffer(to_client_), [self = shared_from_this()](const error_code& ec, std::size_t n) {
            if (ec || self->closed_) {
                // The session closed its end: send close_notify, then let go.
                self->close();
                return;
            }
            // A client that stops reading would hold this write for ever; the deadline
            // closes the connection as the write timeout of a clear stream would.
            self->deadline_.expires_after(self->write_timeout_);
            self->deadline_.async_wait([self](const error_code& tec) {
                if (!tec) {
                    self->close();
                }
            });
            self->writing_ = true;
            asio::async_write(self->tls_, asio::buffer(self->to_client_.data(), n),
                              [self](const error_code& wec, std::size_t) {
                                  self->writing_ = false;
                                  self->deadline_.cancel();
                                  if (wec || self->closed_ || (self->draining_ && self->idle())) {
                                      self->close();
                                      return;
                                  }
                                  self->pump_to_client();
                              });
        });
}

void tls_tunnel::close() {
    if (closed_) {
        return;
    }
    closed_ = true;
    deadline_.cancel();
    error_code ignored;
    inner_.close(ignored);
    // No TLS close_notify exchange: a peer that stopped reading would stall it, and an
    // event stream ends its own framing (last chunk) before the connection closes.
    tls_.lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    tls_.lowest_layer().close(ignored);
}

} // namespace ssehub::http
