// SPDX-License-Identifier: Apache-2.0
#include "http/server.hpp"

#include "core/log.hpp"
#include "http/http_session.hpp"
#include "http/tls_tunnel.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>
#include <openssl/ssl.h>

namespace ssehub::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

server::server(server_options options, hub& h, actions::engine& engine,
               const std::vector<asio::io_context*>& contexts)
    : options_(std::move(options)), hub_(h), engine_(engine),
      limiter_(options_.connections, options_.connections_per_address, stats_),
      auth_(options_.auth), publish_rate_(options_.publish_rate),
      acceptor_(std::in_place, *contexts.at(0)) {
    const stream_settings settings{options_.keepalive, options_.write_timeout, options_.retry,
                                   options_.outbound_limit};
    for (std::size_t i = 0; i < contexts.size(); ++i) {
        workers_.push_back(std::make_unique<worker>(i, *contexts[i], settings, stats_));
    }
}

server::~server() = default;

result<tcp::endpoint> server::listen() {
    // Keys and key files are read before the port opens: a bad one stops the start.
    if (auto ok = auth_.load(); !ok) {
        return ok.error();
    }

    boost::system::error_code ec;
    const auto address = asio::ip::make_address(options_.address, ec);
    if (ec) {
        return make_error(errc::bad_request,
                          "server.listen: '" + options_.address + "' is not an IP address",
                          "server.listen");
    }
    const tcp::endpoint want{address, options_.port};
    const auto failed = [&](std::string_view step) {
        return make_error(errc::unavailable,
                          "cannot " + std::string(step) + " " + want.address().to_string() + ":" +
                              std::to_string(want.port()) + ": " + ec.message(),
                          "server.listen");
    };

    acceptor_->open(want.protocol(), ec);
    if (ec) {
        return failed("open");
    }
    acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    acceptor_->bind(want, ec);
    if (ec) {
        return failed("bind");
    }
    acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        return failed("listen on");
    }
    auto bound = acceptor_->local_endpoint(ec);
    if (ec) {
        return failed("read the address of");
    }
    if (!options_.tls_listen.empty()) {
        if (auto ok = listen_tls(); !ok) {
            return ok.error();
        }
    }
    return bound;
}

namespace {

// ALPN: the hub speaks HTTP/1.1 only, so it agrees to `http/1.1` and to nothing else; a
// client offering only h2 gets no protocol and falls back to HTTP/1.1 (F19 B).
int select_http11(SSL*, const unsigned char** out, unsigned char* out_size,
                  const unsigned char* offered, unsigned int offered_size, void*) {
    static constexpr unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* chosen = nullptr;
    if (SSL_select_next_proto(&chosen, out_size, http11, sizeof http11, offered, offered_size) !=
        OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

} // namespace

result<void> server::listen_tls() {
    // The certificate first: a wrong file is a configuration error, said in one line.
    tls_context_.emplace(asio::ssl::context::tls_server);
    tls_context_->set_options(asio::ssl::context::default_workarounds |
                              asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                              asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    SSL_CTX_set_alpn_select_cb(tls_context_->native_handle(), select_http11, nullptr);
    boost::system::error_code ec;
    tls_context_->use_certificate_chain_file(options_.tls_cert, ec);
    if (ec) {
        return make_error(errc::bad_request,
                          "configuration error: tls.cert = \"" + options_.tls_cert +
                              "\": cannot load a PEM certificate chain: " + ec.message(),
                          "tls.cert");
    }
    tls_context_->use_private_key_file(options_.tls_key, asio::ssl::context::pem, ec);
    if (ec) {
        return make_error(
            errc::bad_request,
            "configuration error: tls.key = \"" + options_.tls_key +
                "\": cannot load a PEM private key matching tls.cert: " + ec.message(),
            "tls.key");
    }

    // HOST:PORT or [IPv6]:PORT, as the configuration checked it.
    const auto colon = options_.tls_listen.rfind(':');
    std::string host = options_.tls_listen.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[') {
        host = host.substr(1, host.size() - 2);
    }
    const auto port = static_cast<std::uint16_t>(std::stoul(options_.tls_listen.substr(colon + 1)));
    const auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
    if (ec) {
        return make_error(errc::bad_request, "tls.listen: not an IP address", "tls.listen");
    }
    const tcp::endpoint want{address, port};
    tls_acceptor_.emplace(acceptor_->get_executor());
    tls_acceptor_->open(want.protocol(), ec);
    if (!ec) {
        tls_acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
        tls_acceptor_->bind(want, ec);
    }
    if (!ec) {
        tls_acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    }
    if (!ec) {
        tls_bound_ = tls_acceptor_->local_endpoint(ec);
    }
    if (ec) {
        return make_error(errc::unavailable,
                          "cannot listen for HTTPS on " + options_.tls_listen + ": " + ec.message(),
                          "tls.listen");
    }
    return {};
}

void server::start() {
    for (auto& w : workers_) {
        asio::post(w->context(), [w = w.get()] { w->start_timer(); });
    }
    accept_next();
    if (tls_acceptor_) {
        accept_next_tls();
    }
}

void server::accept_next_tls() {
    auto& target = *workers_[next_tls_worker_];
    next_tls_worker_ = (next_tls_worker_ + 1) % workers_.size();
    tls_acceptor_->async_accept(
        target.context(), [this, &target](const boost::system::error_code& ec, tcp::socket socket) {
            if (ec == asio::error::operation_aborted || !tls_acceptor_ ||
                !tls_acceptor_->is_open()) {
                return;
            }
            if (ec) {
                core::logger("http")->error("tls accept failed: {}", ec.message());
            } else {
                boost::system::error_code ignored;
                socket.set_option(tcp::no_delay(true), ignored);
                socket.set_option(asio::socket_base::keep_alive(true), ignored);
                const auto peer = socket.remote_endpoint(ignored);
                auto slot = limiter_.acquire(peer.address());
                const auto remote = peer.address().to_string() + ":" + std::to_string(peer.port());

                // After the handshake, an ordinary session serves the clear end of the tunnel,
                // with the client's own address for its logs and limits.
                auto tunnel = std::make_shared<tls_tunnel>(std::move(socket), *tls_context_,
                                                           options_.request_timeout,
                                                           options_.write_timeout, stats_);
                auto held = std::make_shared<connection_limiter::slot>(std::move(slot));
                asio::post(target.context(), [this, &target, tunnel, remote, held] {
                    target.add_tunnel(tunnel);
                    tunnel->start([this, &target, remote, held](tls_tunnel::plain_socket plain) {
                        boost::system::error_code assign_ec;
                        tcp::socket as_tcp(target.context());
                        as_tcp.assign(tcp::v4(), plain.release(), assign_ec);
                        if (assign_ec) {
                            return;
                        }
                        std::make_shared<http_session>(std::move(as_tcp), std::move(*held), *this,
                                                       target, remote)
                            ->run();
                    });
                });
            }
            accept_next_tls();
        });
}

void server::accept_next() {
    // Each connection goes to the next worker in turn and stays on its thread.
    auto& target = *workers_[next_worker_];
    acceptor_->async_accept(
        target.context(), [this, &target](const boost::system::error_code& ec, tcp::socket socket) {
            if (ec == asio::error::operation_aborted || !acceptor_ || !acceptor_->is_open()) {
                return;
            }
            if (ec) {
                // Out of file descriptors, typically: say so and keep accepting.
                core::logger("http")->error("accept failed: {}", ec.message());
                accept_next();
                return;
            }
            hand_over(target, std::move(socket));

            // A connect storm queues many connections at once: take those already waiting
            // without a trip through the event loop each, up to a bound, so that the streams
            // this thread serves still get their turn.
            boost::system::error_code more_ec;
            acceptor_->non_blocking(true, more_ec);
            for (std::size_t i = 1; i < max_accepts_per_wakeup && !more_ec; ++i) {
                auto& next_target = *workers_[next_worker_];
                tcp::socket next(next_target.context());
                acceptor_->accept(next, more_ec);
                if (!more_ec) {
                    hand_over(next_target, std::move(next));
                }
            }
            accept_next();
        });
}

void server::hand_over(worker& target, tcp::socket socket) {
    next_worker_ = (next_worker_ + 1) % workers_.size();

    // The connection's options and its slot are set on its own thread, so the accepting
    // thread only accepts.
    asio::post(target.context(), [this, &target, socket = std::move(socket)]() mutable {
        boost::system::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        socket.set_option(asio::socket_base::keep_alive(true), ignored);
        const auto peer = socket.remote_endpoint(ignored);
        auto slot = limiter_.acquire(peer.address());
        std::make_shared<http_session>(std::move(socket), std::move(slot), *this, target)->run();
    });
}

void server::stop_accepting() {
    draining_.store(true, std::memory_order_relaxed);
    asio::post(acceptor_->get_executor(), [this] {
        boost::system::error_code ignored;
        if (tls_acceptor_) {
            tls_acceptor_->close(ignored);
            tls_acceptor_.reset();
        }
        if (acceptor_) {
            acceptor_->close(ignored);
            acceptor_.reset();
        }
    });
}

void server::drain_tunnels() {
    for (auto& w : workers_) {
        asio::post(w->context(), [w = w.get()] { w->drain_tunnels(); });
    }
}

void server::stop_timers() {
    for (auto& w : workers_) {
        asio::post(w->context(), [w = w.get()] { w->stop_timer(); });
    }
}

} // namespace ssehub::http

namespace ssehub::http {

void server::release_io_objects() {
    acceptor_.reset();
    tls_acceptor_.reset();
    for (auto& w : workers_) {
        w->stop_timer();
    }
}

} // namespace ssehub::http
