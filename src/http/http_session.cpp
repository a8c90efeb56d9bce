// SPDX-License-Identifier: Apache-2.0
#include "http/http_session.hpp"

#include "actions/engine.hpp"
#include "core/log.hpp"
#include "http/auth.hpp"
#include "http/error_response.hpp"
#include "http/routes.hpp"
#include "http/server.hpp"
#include "http/sse_connection.hpp"
#include "http/worker.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <random>

namespace ssehub::http {

namespace beast = boost::beast;
namespace beast_http = boost::beast::http;

namespace {

// `code=... path=...: message` of a JSON error body, for the one log line of a refusal; the
// body is ours (error_response), so anything else only means there is nothing to add.
std::string describe_refusal(std::string_view body) {
    boost::system::error_code ec;
    auto doc = boost::json::parse(body, ec);
    const auto* err = ec                ? nullptr
                      : doc.is_object() ? doc.as_object().if_contains("error")
                                        : nullptr;
    if (err == nullptr || !err->is_object()) {
        return {};
    }
    auto field = [&](std::string_view key) -> std::string {
        const auto* v = err->as_object().if_contains(key);
        return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string{};
    };
    return " code=" + field("code") + " path=" + field("path") + ": " + field("message");
}

// Retry-After for a refusal at a limit: 5 s spread by ±20 %, so refused clients do not
// come back in step (F22).
std::string spread_retry_after() {
    thread_local std::minstd_rand spread{std::random_device{}()};
    std::uniform_int_distribution<int> seconds(4, 6);
    return std::to_string(seconds(spread));
}

std::string describe(const boost::asio::ip::tcp::socket& s) {
    boost::system::error_code ec;
    const auto ep = s.remote_endpoint(ec);
    if (ec) {
        return "?";
    }
    return ep.address().to_string() + ":" + std::to_string(ep.port());
}

} // namespace

http_session::http_session(boost::asio::ip::tcp::socket socket, connection_limiter::slot slot,
                           server& srv, worker& owner, std::string remote)
    : stream_(std::move(socket)), slot_(std::move(slot)), server_(srv), worker_(owner),
      remote_(remote.empty() ? describe(stream_.socket()) : std::move(remote)),
      deadline_(stream_.get_executor()) {}

void http_session::run() {
    read_request();
}

void http_session::read_request() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.options().header_limit));
    parser_->body_limit(server_.options().body_limit);
    stream_.expires_never();
    timed_out_ = false;
    if (buffer_.size() > 0) {
        // A pipelined request has begun already.
        started_ = std::chrono::steady_clock::now();
        read_head();
        return;
    }
    wait_first_byte();
}

void http_session::wait_first_byte() {
    arm(server_.options().request_timeout);
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](
                                                       const beast::error_code& ec, std::size_t n) {
        self->deadline_.cancel();
        if (ec) {
            // An idle keep-alive connection that says nothing is closed without a word.
            if (self->timed_out_) {
                core::logger("http")->debug("idle connection closed remote={}", self->remote_);
            }
            self->close();
            return;
        }
        self->buffer_.commit(n);
        self->started_ = std::chrono::steady_clock::now();
        self->timed_out_ = false;
        self->read_head();
    });
}

void http_session::read_head() {
    arm(server_.options().head_timeout);
    head_bytes_ = 0;
    read_head_some();
}

void http_session::read_head_some() {
    beast_http::async_read_some(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t consumed) {
            // Beast checks limits.headers per parse window, and a head sent in small pieces
            // is parsed field by field: the bytes of the whole head are counted here.
            self->head_bytes_ += consumed;
            const bool done = self->parser_->is_header_done();
            const auto held = self->head_bytes_ + (done ? 0 : self->buffer_.size());
            if (!ec && held > self->server_.options().header_limit) {
                ec = beast_http::error::header_limit;
            }
            if (!ec && !done) {
                self->read_head_some();
                return;
            }
            self->on_head(ec);
        });
}

void http_session::on_head(const beast::error_code& ec) {
    deadline_.cancel();
    if (ec) {
        if (timed_out_) {
            refuse_slow("head");
            return;
        }
        on_read(ec);
        return;
    }

    // The body has what is left of the whole request's time.
    const auto spent = std::chrono::steady_clock::now() - started_;
    const std::chrono::steady_clock::duration whole = server_.options().request_timeout;
    arm(spent < whole ? whole - spent : std::chrono::steady_clock::duration::zero());
    beast_http::async_read(stream_, buffer_, *parser_,
                           [self = shared_from_this()](const beast::error_code& rec, std::size_t) {
                               self->deadline_.cancel();
                               if (rec && self->timed_out_) {
                                   self->refuse_slow("body");
                                   return;
                               }
                               self->on_read(rec);
                           });
}

void http_session::arm(std::chrono::steady_clock::duration timeout) {
    timed_out_ = false;
    deadline_.expires_after(timeout);
    deadline_.async_wait([weak = weak_from_this()](const beast::error_code& ec) {
        auto self = weak.lock();
        if (ec || !self) {
            return;
        }
        // The read under way ends with operation_aborted; its handler sees timed_out_.
        self->timed_out_ = true;
        beast::error_code ignored;
        self->stream_.socket().cancel(ignored);
    });
}

void http_session::refuse_slow(std::string_view part) {
    const auto& o = server_.options();
    const std::string key = part == "head" ? "limits.head_timeout" : "server.request_timeout";
    const auto limit = part == "head" ? o.head_timeout : o.request_timeout;
    server_.stats().request_timeouts.fetch_add(1, std::memory_order_relaxed);
    server_.stats().errors.fetch_add(1, std::memory_order_relaxed);
    count_refusal(server_.stats(), 408);
    core::logger("http")->warn("request too slow remote={} part={} limit={}ms", remote_, part,
                               limit.count());
    request req;
    req.version(11);
    send(error_response(req, make_error(errc::timeout,
                                        "the request's " + std::string(part) +
                                            " did not arrive within " +
                                            std::to_string(limit.count()) + " ms (" + key + ")",
                                        std::string(part))),
         true);
}

void http_session::on_read(const beast::error_code& ec) {
    if (ec == beast_http::error::end_of_stream || ec == boost::asio::error::eof ||
        ec == boost::asio::error::connection_reset || ec == boost::asio::error::operation_aborted) {
        close();
        return;
    }
    request req;
    if (ec) {
        // The parser stopped on the request itself: answer once, then close.
        error e =
            make_error(errc::bad_request, "malformed HTTP request: " + ec.message(), "request");
        if (ec == beast_http::error::body_limit) {
            e = make_error(errc::payload_too_large,
                           "the body is over the limit of " +
                               std::to_string(server_.options().body_limit) +
                               " bytes (limits.body)",
                           "body");
        } else if (ec == beast_http::error::header_limit) {
            e = make_error(errc::headers_too_large,
                           "the request line and headers are over the limit of " +
                               std::to_string(server_.options().header_limit) +
                               " bytes (limits.headers)",
                           "headers");
        }
        core::logger("http")->info("request refused remote={} code={}: {}", remote_,
                                   to_string(e.code), e.message);
        server_.stats().errors.fetch_add(1, std::memory_order_relaxed);
        count_refusal(server_.stats(), static_cast<unsigned>(status_of(e.code)));
        req.version(11);
        send(error_response(req, e), true);
        return;
    }

    req = parser_->release();
    parser_.reset();
    server_.stats().requests.fetch_add(1, std::memory_order_relaxed);

    // A transfer coding other than a lone `chunked` leaves the body's end to guesswork, and
    // a proxy in front may guess otherwise (request smuggling): refuse it and close.
    if (auto te = req.find(beast_http::field::transfer_encoding);
        te != req.end() && !beast::iequals(te->value(), "chunked")) {
        server_.stats().errors.fetch_add(1, std::memory_order_relaxed);
        count_refusal(server_.stats(), 400);
        core::logger("http")->info("request refused remote={}: transfer coding {}", remote_,
                                   std::string(te->value()));
        send(error_response(req, make_error(errc::bad_request,
                                            "only Transfer-Encoding: chunked is accepted",
                                            "headers.transfer-encoding")),
             true);
        return;
    }
    handle(req);
}

void http_session::handle(request& req) {
    // Past a connection limit, refuse; never evict a client already served (F22).
    if (slot_.over_limit()) {
        server_.stats().refused_limit.fetch_add(1, std::memory_order_relaxed);
        server_.stats().errors.fetch_add(1, std::memory_order_relaxed);
        count_refusal(server_.stats(), 429);
        core::logger("http")->warn("connection refused at a limit remote={} open={}", remote_,
                                   server_.stats().open_connections.load());
        auto res = error_response(req, make_error(errc::limit_exceeded,
                                                  "too many connections (limits.connections or "
                                                  "limits.connections_per_address); retry later",
                                                  "connection"));
        res.set(beast_http::field::retry_after, spread_retry_after());
        send(std::move(res), true);
        return;
    }

    auto routed_to = route(server_, req, remote_);
    if (auto* res = std::get_if<response>(&routed_to)) {
        if (beast_http::to_status_class(res->result()) == beast_http::status_class::client_error ||
            beast_http::to_status_class(res->result()) == beast_http::status_class::server_error) {
            server_.stats().errors.fetch_add(1, std::memory_order_relaxed);
            count_refusal(server_.stats(), res->result_int());
            core::logger("http")->info("request refused remote={} method={} target={} status={}{}",
                                       remote_, std::string(req.method_string()),
                                       redact_target(req.target()), res->result_int(),
                                       describe_refusal(res->body()));
        }
        const bool close_after = !res->keep_alive();
        send(std::move(*res), close_after);
        return;
    }

    auto& sr = std::get<stream_request>(routed_to);
    sr.subscription.remote = remote_;
    auto conn = std::make_shared<sse_connection>(worker_, server_.get_hub(), remote_);
    auto a = server_.get_hub().attach(sr.subscription, conn, worker_.index());
    if (!a) {
        server_.stats().errors.fetch_add(1, std::memory_order_relaxed);
        count_refusal(server_.stats(), static_cast<unsigned>(status_of(a.error().code)));
        core::logger("http")->info("stream refused remote={} target={} code={} path={}: {}",
                                   remote_, redact_target(req.target()), to_string(a.error().code),
                                   a.error().path, a.error().message);
        auto res = error_response(req, a.error());
        res.keep_alive(false);
        send(std::move(res), true);
        return;
    }

    server_.stats().streams_opened.fetch_add(1, std::memory_order_relaxed);
    if (sr.connect != nullptr) {
        // Queued for the engine's thread: the stream starts without waiting for them.
        server_.get_engine().on_connect(*sr.connect, sr.subscription.ns, a->session,
                                        std::move(sr.request), sr.subscription.claims);
    }
    core::logger("http")->debug("stream opened session={} namespace={} remote={}", a->session,
                                to_string(sr.subscription.ns), remote_);
    stream_.expires_never();
    conn->start(stream_.release_socket(), std::move(slot_), *a, sr.chunked,
                std::move(sr.extra_headers));
    // This session ends here: its buffer and parser go with it.
}

void http_session::send(response res, bool close_after) {
    pending_ = std::make_shared<response>(std::move(res));
    if (close_after) {
        pending_->keep_alive(false);
    }
    stream_.expires_after(server_.options().request_timeout);
    beast_http::async_write(
        stream_, *pending_,
        [self = shared_from_this(), close_after](const beast::error_code& ec, std::size_t) {
            self->on_sent(ec, close_after);
        });
}

void http_session::on_sent(const beast::error_code& ec, bool close_after) {
    pending_.reset();
    if (ec || close_after) {
        close();
        return;
    }
    read_request();
}

void http_session::close() {
    // Half-close, then read and drop what the client still sends (the rest of a refused
    // body, say) until it closes too or a short timeout: closing with unread data would
    // reset the connection and could destroy the answer before the client reads it.
    beast::error_code ignored;
    stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
    buffer_.clear();
    parser_.reset();
    stream_.expires_after(std::chrono::seconds(2));
    drain();
}

void http_session::drain() {
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](const beast::error_code& ec, std::size_t) {
                                if (ec) {
                                    self->stream_.close();
                                    return;
                                }
                                self->drain();
                            });
}

} // namespace ssehub::http
