// SPDX-License-Identifier: Apache-2.0
#include "http/server.hpp"

#include "core/log.hpp"
#include "http/http_session.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>

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
    return bound;
}

void server::start() {
    for (auto& w : workers_) {
        asio::post(w->context(), [w = w.get()] { w->start_timer(); });
    }
    accept_next();
}

void server::accept_next() {
    // Each connection goes to the next worker in turn and stays on its thread.
    auto& target = *workers_[next_worker_];
    next_worker_ = (next_worker_ + 1) % workers_.size();
    acceptor_->async_accept(target.context(), [this, &target](const boost::system::error_code& ec,
                                                              tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !acceptor_ || !acceptor_->is_open()) {
            return;
        }
        if (ec) {
            // Out of file descriptors, typically: say so and keep accepting.
            core::logger("http")->error("accept failed: {}", ec.message());
        } else {
            boost::system::error_code ignored;
            socket.set_option(tcp::no_delay(true), ignored);
            socket.set_option(asio::socket_base::keep_alive(true), ignored);
            const auto peer = socket.remote_endpoint(ignored);
            auto slot = limiter_.acquire(peer.address());
            // The session is created on its own worker's thread.
            asio::post(target.context(), [this, &target, socket = std::move(socket),
                                          slot = std::move(slot)]() mutable {
                std::make_shared<http_session>(std::move(socket), std::move(slot), *this, target)
                    ->run();
            });
        }
        accept_next();
    });
}

void server::stop_accepting() {
    draining_.store(true, std::memory_order_relaxed);
    asio::post(acceptor_->get_executor(), [this] {
        if (acceptor_) {
            boost::system::error_code ignored;
            acceptor_->close(ignored);
            acceptor_.reset();
        }
    });
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
    for (auto& w : workers_) {
        w->stop_timer();
    }
}

} // namespace ssehub::http
