// SPDX-License-Identifier: Apache-2.0
#include "actions/webhook.hpp"

#include "core/log.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <optional>
#include <spdlog/spdlog.h>

namespace ssehub::actions {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;

namespace {

using clock = std::chrono::steady_clock;

// A receiver's answer is read to learn its status only; a larger one is cut off.
constexpr std::uint64_t max_response_bytes = 64 * 1024;

std::shared_ptr<spdlog::logger> log() {
    return core::logger("actions");
}

// Which failures are worth another attempt: the network, a timeout, and the statuses that
// say "later" (408, 429, 5xx). Any other answer is final.
bool retryable_status(unsigned status) {
    return status == 408 || status == 429 || status >= 500;
}

// Failures come in storms (a receiver down for all of them): log the 1st, 2nd, 4th, ...
bool worth_logging(std::uint64_t n) {
    return (n & (n - 1)) == 0;
}

} // namespace

std::string webhook_signature(std::string_view secret, std::string_view body) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest, &size);

    constexpr std::string_view hex = "0123456789abcdef";
    std::string out = "sha256=";
    for (unsigned int i = 0; i < size; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 0x0F];
    }
    return out;
}

bool webhook_allowed(std::string_view url, const std::vector<std::string>& allow) {
    for (const auto& prefix : allow) {
        if (prefix.empty() || !url.starts_with(prefix)) {
            continue;
        }
        if (prefix.back() == '/' || url.size() == prefix.size()) {
            return true;
        }
        const char next = url[prefix.size()];
        if (next == '/' || next == '?' || next == '#') {
            return true;
        }
    }
    return false;
}

result<void> check_webhook_url(std::string_view url, const std::vector<std::string>& allow,
                               const std::string& path) {
    auto u = boost::urls::parse_absolute_uri(url);
    if (!u || u->host().empty()) {
        return make_error(errc::bad_request, "is not an absolute http:// URL", path);
    }
    if (u->scheme() != "http" && u->scheme() != "https") {
        return make_error(errc::bad_request,
                          "only http:// and https:// webhooks are supported (not " +
                              std::string(u->scheme()) + "://)",
                          path);
    }
    if (u->has_userinfo()) {
        return make_error(errc::bad_request, "must not carry a user name or password", path);
    }
    if (!webhook_allowed(url, allow)) {
        return make_error(errc::forbidden,
                          allow.empty() ? "webhooks are off: webhooks.allow lists no URL prefix"
                                        : "is not under a prefix of webhooks.allow",
                          path);
    }
    return {};
}

// One POST and its attempts. Owned by the handlers of its pending operations.
struct webhook_sender::call : std::enable_shared_from_this<webhook_sender::call> {
    call(webhook_sender& o, std::string u, std::string b, std::string w)
        : owner(o), url(std::move(u)), what(std::move(w)), resolver(o.ioc_), timer(o.ioc_) {
        auto parsed = boost::urls::parse_absolute_uri(url);
        if (parsed) {
            secure = parsed->scheme() == "https";
            host = parsed->host_address();
            port = parsed->has_port() ? std::string(parsed->port()) : secure ? "443" : "80";
            std::string target(parsed->encoded_target());
            request.target(target.empty() ? "/" : target);
            request.set(beast_http::field::host, parsed->encoded_host_and_port());
        }
        request.method(beast_http::verb::post);
        request.version(11);
        request.set(beast_http::field::content_type, "application/json");
        request.set(beast_http::field::user_agent, "ssehub");
        request.set(beast_http::field::connection, "close");
        if (!owner.options_.secret.empty()) {
            request.set(signature_header, webhook_signature(owner.options_.secret, b));
        }
        request.body() = std::move(b);
        request.prepare_payload();
    }

    void start() {
        ++attempt;
        deadline = clock::now() + owner.options_.timeout;
        if (secure && owner.tls_ == nullptr) {
            // Not worth a retry: the CA file will not load better later.
            owner.finished(*this, false, owner.tls_error_);
            return;
        }
        tls_stream.reset();
        stream.reset();
        if (secure) {
            tls_stream.emplace(owner.ioc_, *static_cast<ssl::context*>(owner.tls_.get()));
        } else {
            stream.emplace(owner.ioc_);
        }
        parser.emplace();
        parser->body_limit(max_response_bytes);
        buffer.clear();

        resolver.async_resolve(
            host, port,
            [self = shared_from_this()](const beast::error_code& ec,
                                        const asio::ip::tcp::resolver::results_type& results) {
                if (ec) {
                    self->attempt_failed("cannot resolve the host: " + ec.message(), true);
                    return;
                }
                self->connect(results);
            });
    }

    // The TCP layer, under TLS or not.
    beast::tcp_stream& tcp() { return secure ? beast::get_lowest_layer(*tls_stream) : *stream; }

    void connect(const asio::ip::tcp::resolver::results_type& results) {
        tcp().expires_at(deadline);
        tcp().async_connect(results, [self = shared_from_this()](const beast::error_code& ec,
                                                                 const asio::ip::tcp::endpoint&) {
            if (ec) {
                self->attempt_failed("cannot connect: " + self->describe(ec), true);
                return;
            }
            if (self->secure) {
                self->handshake();
            } else {
                self->write();
            }
        });
    }

    // TLS: the certificate must chain to a trusted CA and name the URL's host (a name, or
    // an IP address in its subjectAltName); SNI carries a host name, never an address.
    void handshake() {
        boost::system::error_code ec;
        static_cast<void>(asio::ip::make_address(host, ec));
        const bool is_address = !ec;
        if (!is_address &&
            SSL_set_tlsext_host_name(tls_stream->native_handle(), host.c_str()) != 1) {
            attempt_failed("cannot set the TLS server name", false);
            return;
        }
        tls_stream->set_verify_mode(ssl::verify_peer);
        tls_stream->set_verify_callback(ssl::host_name_verification(host));
        tcp().expires_at(deadline);
        tls_stream->async_handshake(
            ssl::stream_base::client, [self = shared_from_this()](const beast::error_code& hec) {
                if (hec) {
                    // A certificate that fails the check will fail the same way again.
                    const bool verify = hec.category() == asio::error::get_ssl_category();
                    self->attempt_failed("TLS handshake failed: " + self->describe(hec), !verify);
                    return;
                }
                self->write();
            });
    }

    void write() {
        if (secure) {
            write_on(*tls_stream);
        } else {
            write_on(*stream);
        }
    }

    template <class Stream> void write_on(Stream& s) {
        tcp().expires_at(deadline);
        beast_http::async_write(
            s, request, [self = shared_from_this()](const beast::error_code& ec, std::size_t) {
                if (ec) {
                    self->attempt_failed("cannot send: " + self->describe(ec), true);
                    return;
                }
                self->read();
            });
    }

    void read() {
        if (secure) {
            read_on(*tls_stream);
        } else {
            read_on(*stream);
        }
    }

    template <class Stream> void read_on(Stream& s) {
        tcp().expires_at(deadline);
        beast_http::async_read(
            s, buffer, *parser,
            [self = shared_from_this()](const beast::error_code& ec, std::size_t) {
                const unsigned status = self->parser->get().result_int();
                // A body over the limit still told us the status.
                if (ec && !(ec == beast_http::error::body_limit && status != 0)) {
                    self->attempt_failed("no answer: " + self->describe(ec), true);
                    return;
                }
                self->close();
                if (status >= 200 && status < 300) {
                    self->owner.finished(*self, true, {});
                    return;
                }
                self->attempt_failed("answered " + std::to_string(status),
                                     retryable_status(status));
            });
    }

    std::string describe(const beast::error_code& ec) const {
        return ec == beast::error::timeout ? "timed out" : ec.message();
    }

    // The connection is `Connection: close` and the answer is in: no TLS close_notify is
    // awaited, the socket just closes.
    void close() {
        if (!stream && !tls_stream) {
            return;
        }
        beast::error_code ignored;
        tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        tcp().close();
    }

    void attempt_failed(const std::string& why, bool retry) {
        close();
        if (!retry || attempt > owner.options_.retries) {
            owner.finished(*this, false, why);
            return;
        }
        owner.stats_.retries.fetch_add(1, std::memory_order_relaxed);
        log()->debug("webhook attempt failed {} url={} attempt={}: {}", what, url, attempt, why);

        // Backoff doubles per attempt: 200 ms, 400 ms, 800 ms, ... by default.
        const auto wait =
            owner.options_.backoff * (std::int64_t{1} << std::min<std::size_t>(attempt - 1, 16));
        timer.expires_after(wait);
        timer.async_wait([self = shared_from_this()](const beast::error_code& ec) {
            if (ec) {
                return;
            }
            self->start();
        });
    }

    webhook_sender& owner;
    std::string url;
    std::string what;
    std::string host;
    std::string port;
    beast_http::request<beast_http::string_body> request;
    asio::ip::tcp::resolver resolver;
    asio::steady_timer timer;
    bool secure = false; // https://
    std::optional<beast::tcp_stream> stream;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls_stream;
    std::optional<beast_http::response_parser<beast_http::string_body>> parser;
    beast::flat_buffer buffer;
    std::size_t attempt = 0;
    clock::time_point deadline{};
};

webhook_sender::webhook_sender(asio::io_context& ioc, webhook_options options)
    : ioc_(ioc), options_(std::move(options)) {
    auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
    boost::system::error_code ec;
    context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                             ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                             ssl::context::no_tlsv1_1,
                         ec);
    if (options_.ca_file.empty()) {
        context->set_default_verify_paths(ec);
    } else {
        context->load_verify_file(options_.ca_file, ec);
    }
    if (ec) {
        tls_error_ = "cannot load the CA certificates" +
                     (options_.ca_file.empty() ? std::string() : " of " + options_.ca_file) + ": " +
                     ec.message();
        log()->error("https webhooks are off: {}", tls_error_);
        return;
    }
    tls_ = std::move(context);
}

webhook_sender::~webhook_sender() = default;

bool webhook_sender::post(std::string url, std::string body, std::string what) {
    // Reserve a place first, so that concurrent callers never pass the limit together.
    const auto before = stats_.queued.fetch_add(1, std::memory_order_relaxed);
    if (before >= options_.queue_limit) {
        stats_.queued.fetch_sub(1, std::memory_order_relaxed);
        const auto n = stats_.dropped.fetch_add(1, std::memory_order_relaxed) + 1;
        if (worth_logging(n)) {
            log()->warn("webhook dropped {} url={}: the queue holds {} calls (dropped={})", what,
                        url, options_.queue_limit, n);
        }
        return false;
    }

    auto c = std::make_shared<call>(*this, std::move(url), std::move(body), std::move(what));
    asio::post(ioc_, [this, c = std::move(c)]() mutable {
        waiting_.push_back(std::move(c));
        start_next();
    });
    return true;
}

void webhook_sender::start_next() {
    while (active_ < options_.concurrency && !waiting_.empty()) {
        auto c = std::move(waiting_.front());
        waiting_.pop_front();
        ++active_;
        c->start();
    }
}

void webhook_sender::finished(const call& c, bool ok, const std::string& why) {
    --active_;
    stats_.queued.fetch_sub(1, std::memory_order_relaxed);
    if (ok) {
        stats_.sent.fetch_add(1, std::memory_order_relaxed);
        log()->trace("webhook sent {} url={} attempts={}", c.what, c.url, c.attempt);
    } else {
        const auto n = stats_.failed.fetch_add(1, std::memory_order_relaxed) + 1;
        if (worth_logging(n)) {
            log()->warn("webhook failed {} url={} attempts={}: {} (failed={})", c.what, c.url,
                        c.attempt, why, n);
        }
    }

    // Not from inside the finishing call's handler stack: the next call starts fresh.
    asio::post(ioc_, [this] { start_next(); });
}

} // namespace ssehub::actions
