// SPDX-License-Identifier: Apache-2.0
#include "app/client.hpp"

#include "app/event_stream_parser.hpp"

#include <array>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <csignal>
#include <initializer_list>
#include <openssl/ssl.h>
#include <ostream>
#include <ssehub/error.hpp>
#include <sys/socket.h>
#include <variant>

namespace ssehub::app {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::string_view user_agent = "ssehub-cli";

// Replies to the control API are small JSON documents; an error body is only shown.
constexpr std::uint64_t reply_limit_bytes = 16u << 20;
constexpr std::size_t error_body_limit_bytes = 64u << 10;

// The hub as --url names it.
struct hub_address {
    std::string url;                 ///< as given, for messages
    std::string host;                ///< for the resolver: no brackets around IPv6
    std::string port;                ///< digits; 80 when the URL has none
    std::string host_header;         ///< the Host header: host[:port] as in the URL
    std::vector<std::string> prefix; ///< path segments the hub is mounted under
    std::string token;               ///< sent as `Authorization: Bearer`, when set
    bool tls = false;                ///< https://: the certificate is verified, always
    std::string ca_file;             ///< trusted CAs (PEM); empty: the system's
};

result<hub_address> parse_hub_url(std::string_view text) {
    auto u = boost::urls::parse_uri(text);
    if (!u || (u->scheme() != "http" && u->scheme() != "https") || u->host_address().empty() ||
        u->has_userinfo() || u->has_query() || u->has_fragment()) {
        return make_error(errc::bad_request, "--url must be http[s]://HOST[:PORT][/PATH], not '" +
                                                 std::string(text) + "'");
    }

    hub_address hub;
    hub.url = text;
    hub.tls = u->scheme() == "https";
    hub.host = u->host_address();
    hub.port = u->has_port() ? std::string(u->port()) : hub.tls ? "443" : "80";
    hub.host_header = u->encoded_host_and_port();
    for (const auto segment : u->segments()) {
        if (!segment.empty()) {
            hub.prefix.emplace_back(segment);
        }
    }
    return hub;
}

// The target of a request: the hub's prefix, then `segments`, each percent-encoded, so
// that an id holding `/`, `?` or `%` stays one segment.
boost::urls::url target(const hub_address& hub, std::initializer_list<std::string_view> segments) {
    boost::urls::url u;
    u.set_path_absolute(true);
    for (const auto& segment : hub.prefix) {
        u.segments().push_back(segment);
    }
    for (const auto segment : segments) {
        u.segments().push_back(segment);
    }
    return u;
}

void add_namespace(boost::urls::url& u, const client_options& options) {
    if (!options.digipair.empty()) {
        u.params().append({"digipair", options.digipair});
    }
    if (!options.reasoning.empty()) {
        u.params().append({"reasoning", options.reasoning});
    }
}

error unreachable(const hub_address& hub, const boost::system::error_code& ec) {
    return make_error(errc::unavailable,
                      "cannot reach the hub at " + hub.url + ": " + ec.message());
}

// A connection to the hub: clear TCP, or TLS over it for an https:// URL.
struct hub_stream {
    using tls_stream = asio::ssl::stream<tcp::socket>;

    std::variant<tcp::socket, tls_stream> stream;

    /// The TCP socket under it, for shutdown() from a signal handler.
    tcp::socket& socket() {
        if (auto* tls = std::get_if<tls_stream>(&stream)) {
            return tls->next_layer();
        }
        return std::get<tcp::socket>(stream);
    }

    /// Calls `f` with the stream to read and write, whichever it is.
    template <class F> auto visit(F&& f) { return std::visit(std::forward<F>(f), stream); }
};

// The TLS handshake on `socket`, verifying the hub's certificate against --ca-file (or the
// system's CAs) and its name (or IP address) against the URL's host.
result<hub_stream> secure(tcp::socket socket, const hub_address& hub) {
    boost::system::error_code ec;
    asio::ssl::context context(asio::ssl::context::tls_client);
    context.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1);
    if (hub.ca_file.empty()) {
        context.set_default_verify_paths(ec);
    } else {
        context.load_verify_file(hub.ca_file, ec);
    }
    if (ec) {
        return make_error(errc::bad_request,
                          "cannot load the CA file '" + hub.ca_file + "': " + ec.message());
    }
    context.set_verify_mode(asio::ssl::verify_peer);

    hub_stream::tls_stream tls(std::move(socket), context);
    tls.set_verify_callback(asio::ssl::host_name_verification(hub.host));
    boost::system::error_code not_ip;
    asio::ip::make_address(hub.host, not_ip);
    if (not_ip) {
        // SNI names hosts only, never addresses.
        SSL_set_tlsext_host_name(tls.native_handle(), hub.host.c_str());
    }
    tls.handshake(asio::ssl::stream_base::client, ec);
    if (ec) {
        return make_error(errc::unavailable,
                          "TLS with the hub at " + hub.url + " failed: " + ec.message());
    }
    return hub_stream{std::move(tls)};
}

result<hub_stream> connect(asio::io_context& ioc, const hub_address& hub) {
    boost::system::error_code ec;
    tcp::resolver resolver(ioc);
    const auto endpoints = resolver.resolve(hub.host, hub.port, ec);
    if (ec) {
        return unreachable(hub, ec);
    }
    tcp::socket socket(ioc);
    asio::connect(socket, endpoints, ec);
    if (ec) {
        return unreachable(hub, ec);
    }
    if (hub.tls) {
        return secure(std::move(socket), hub);
    }
    return hub_stream{std::move(socket)};
}

http::request<http::string_body> make_request(const hub_address& hub, http::verb method,
                                              const boost::urls::url& where) {
    http::request<http::string_body> req{method, std::string_view(where.encoded_target()), 11};
    req.set(http::field::host, hub.host_header);
    req.set(http::field::user_agent, user_agent);
    if (!hub.token.empty()) {
        req.set(http::field::authorization, "Bearer " + hub.token);
    }
    return req;
}

struct reply {
    unsigned status = 0;
    std::string reason;
    std::string body;
};

// One request and its whole reply, on a connection of its own.
result<reply> exchange(const hub_address& hub, const boost::urls::url& where, std::string body) {
    asio::io_context ioc;
    auto socket = connect(ioc, hub);
    if (!socket) {
        return socket.error();
    }

    auto req = make_request(hub, http::verb::post, where);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::accept, "application/json");
    req.keep_alive(false);
    req.body() = std::move(body);
    req.prepare_payload();

    boost::system::error_code ec;
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(reply_limit_bytes);
    socket->visit([&](auto& stream) {
        http::write(stream, req, ec);
        if (!ec) {
            http::read(stream, buffer, parser, ec);
        }
    });
    if (ec) {
        return unreachable(hub, ec);
    }

    auto& res = parser.get();
    return reply{res.result_int(), std::string(res.reason()), std::move(res.body())};
}

int fail(const error& e, std::ostream& err) {
    err << "ssehub: " << e.message << '\n';
    return e.code == errc::unavailable ? exit_unreachable : exit_usage;
}

// Prints a 2xx reply's body to `out`, any other reply's to `err`.
int report(const result<reply>& r, std::ostream& out, std::ostream& err) {
    if (!r) {
        return fail(r.error(), err);
    }
    const bool ok = r->status >= 200 && r->status < 300;
    if (!ok && r->body.empty()) {
        err << "ssehub: the hub answered " << r->status << ' ' << r->reason << '\n';
    } else if (!r->body.empty()) {
        auto& to = ok ? out : err;
        to << r->body << (r->body.ends_with('\n') ? "" : "\n");
    }
    return ok ? exit_ok : exit_failed;
}

int post(const client_options& options, std::initializer_list<std::string_view> path,
         bool in_namespace, std::string body, std::ostream& out, std::ostream& err) {
    auto hub = parse_hub_url(options.url);
    if (!hub) {
        return fail(hub.error(), err);
    }
    hub->token = options.token;
    hub->ca_file = options.ca_file;
    auto where = target(*hub, path);
    if (in_namespace) {
        add_namespace(where, options);
    }
    return report(exchange(*hub, where, std::move(body)), out, err);
}

// SIGINT while tailing: the handler shuts the socket down (shutdown() is safe in a signal
// handler), so the blocking read returns at once, even when the signal lands just before
// the read starts. The flag tells that ending from a broken connection.
std::atomic<int> tail_socket{-1};
std::atomic<bool> tail_interrupted{false};
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<bool>::is_always_lock_free);

void on_interrupt(int) {
    tail_interrupted = true;
    const int fd = tail_socket.load();
    if (fd >= 0) {
        ::shutdown(fd, SHUT_RDWR);
    }
}

// Installs on_interrupt for SIGINT, for the life of one tail, then puts back what was there.
class interrupt_guard {
public:
    explicit interrupt_guard(int fd) {
        tail_interrupted = false;
        tail_socket = fd;

        struct sigaction action {};

        action.sa_handler = on_interrupt;
        sigemptyset(&action.sa_mask);
        ::sigaction(SIGINT, &action, &previous_);
    }

    ~interrupt_guard() {
        ::sigaction(SIGINT, &previous_, nullptr);
        tail_socket = -1;
    }

    interrupt_guard(const interrupt_guard&) = delete;
    interrupt_guard& operator=(const interrupt_guard&) = delete;

private:
    struct sigaction previous_ {};
};

// Reads the body of the message `parser` is on, piece by piece as it arrives (the chunked
// framing undone), and hands each piece to `take` until the message ends or `take`
// returns false.
template <class Stream, class Take>
boost::system::error_code read_pieces(Stream& socket, beast::flat_buffer& buffer,
                                      http::response_parser<http::buffer_body>& parser, Take take) {
    std::array<char, 8192> piece{};
    while (!parser.is_done()) {
        auto& body = parser.get().body();
        body.data = piece.data();
        body.size = piece.size();

        boost::system::error_code ec;
        http::read_some(socket, buffer, parser, ec);
        if (ec == http::error::need_buffer) {
            ec = {};
        }
        if (ec) {
            return ec;
        }
        if (!take(std::string_view(piece.data(), piece.size() - body.size))) {
            break;
        }
    }
    return {};
}

std::string one_line(std::string_view data) {
    std::string out;
    for (const char c : data) {
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else {
            out += c;
        }
    }
    return out;
}

void print_event(const sse_event& e, bool json, std::ostream& out) {
    if (json) {
        out << boost::json::serialize(
            boost::json::object{{"event", e.type}, {"id", e.id}, {"data", e.data}});
    } else {
        out << e.type << ' ' << (e.id.empty() ? "-" : e.id) << ' ' << one_line(e.data);
    }
    out << std::endl;
}

} // namespace

boost::json::value message_value(std::string_view text) {
    boost::system::error_code ec;
    auto parsed = boost::json::parse(text, ec);
    if (ec) {
        return boost::json::string(text);
    }
    return parsed;
}

int push(const client_options& options, std::string_view session, std::string_view message,
         const std::optional<std::string>& event, std::ostream& out, std::ostream& err) {
    boost::json::object body{{"message", message_value(message)}};
    if (event) {
        body["event"] = *event;
    }
    return post(options, {"api", "v1", "sessions", session, "messages"}, true,
                boost::json::serialize(body), out, err);
}

int broadcast(const client_options& options, std::string_view message,
              const std::optional<std::string>& channel, const std::optional<std::string>& event,
              std::ostream& out, std::ostream& err) {
    if (channel && !channel->empty()) {
        boost::json::object body{{"message", message_value(message)}};
        if (event) {
            body["event"] = *event;
        }
        return post(options, {"api", "v1", "channels", *channel, "messages"}, true,
                    boost::json::serialize(body), out, err);
    }

    // No channel: the default channel "", which every session of the namespace is in. The
    // REST route cannot name it, so send the pin, and the namespace inside it.
    boost::json::object properties{{"message", message_value(message)}};
    if (event) {
        properties["event"] = *event;
    }
    if (!options.digipair.empty()) {
        properties["digipair"] = options.digipair;
    }
    if (!options.reasoning.empty()) {
        properties["reasoning"] = options.reasoning;
    }
    const boost::json::object pin{{"library", "@digipair/skill-sse"},
                                  {"element", "broadcast"},
                                  {"properties", std::move(properties)}};
    return post(options, {"api", "v1", "actions"}, false, boost::json::serialize(pin), out, err);
}

int run_actions(const client_options& options, std::string document, std::ostream& out,
                std::ostream& err) {
    return post(options, {"api", "v1", "actions"}, false, std::move(document), out, err);
}

int tail(const client_options& options, const tail_options& what, std::ostream& out,
         std::ostream& err) {
    auto hub = parse_hub_url(options.url);
    if (!hub) {
        return fail(hub.error(), err);
    }
    hub->token = options.token;
    hub->ca_file = options.ca_file;
    auto where = target(*hub, {"events"});
    if (what.session) {
        where.params().append({"session", *what.session});
    }
    for (const auto& channel : what.channels) {
        where.params().append({"channel", channel});
    }
    add_namespace(where, options);

    asio::io_context ioc;
    auto socket = connect(ioc, *hub);
    if (!socket) {
        return fail(socket.error(), err);
    }
    const interrupt_guard guard(socket->socket().native_handle());

    // Send the subscription and read up to the end of the headers.
    auto req = make_request(*hub, http::verb::get, where);
    req.set(http::field::accept, "text/event-stream");
    req.set(http::field::cache_control, "no-cache");
    if (what.last_event_id) {
        req.set("Last-Event-ID", *what.last_event_id);
    }
    boost::system::error_code ec;
    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    socket->visit([&](auto& stream) {
        http::write(stream, req, ec);
        if (!ec) {
            http::read_header(stream, buffer, parser, ec);
        }
    });
    if (tail_interrupted) {
        return exit_ok;
    }
    if (ec) {
        return fail(unreachable(*hub, ec), err);
    }

    // A refusal carries a JSON error body: show it, as push does.
    const auto& head = parser.get();
    if (head.result() != http::status::ok) {
        std::string body;
        socket->visit([&](auto& stream) {
            read_pieces(stream, buffer, parser, [&body](std::string_view piece) {
                body.append(piece);
                return body.size() < error_body_limit_bytes;
            });
        });
        return report(reply{head.result_int(), std::string(head.reason()), std::move(body)}, out,
                      err);
    }
    if (!head[http::field::content_type].starts_with("text/event-stream")) {
        err << "ssehub: " << hub->url << " answered with "
            << std::string_view(head[http::field::content_type]) << ", not an event stream\n";
        return exit_failed;
    }

    // Print each event as the stream completes it.
    std::size_t seen = 0;
    const auto enough = [&] {
        return what.count && seen >= *what.count;
    };
    event_stream_parser events([&](const sse_event& e) {
        if (!enough()) {
            print_event(e, what.json, out);
            ++seen;
        }
    });
    socket->visit([&](auto& stream) {
        ec = read_pieces(stream, buffer, parser, [&](std::string_view piece) {
            events.feed(piece);
            return !enough();
        });
    });

    if (enough() || tail_interrupted) {
        return exit_ok;
    }
    if (ec) {
        return fail(make_error(errc::unavailable,
                               "the stream from " + hub->url + " broke: " + ec.message()),
                    err);
    }
    err << "ssehub: the hub ended the stream\n";
    return exit_ok;
}

} // namespace ssehub::app
