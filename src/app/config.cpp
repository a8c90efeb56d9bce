// SPDX-License-Identifier: Apache-2.0
#include "app/config_loader.hpp"
#include "broker/broker_url.hpp"
#include "http/auth.hpp"

#include <CLI/App.hpp>
#include <algorithm>
#include <array>
#include <boost/asio/ip/address.hpp>
#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <toml++/toml.h>
#include <unistd.h>

namespace ssehub::app {

namespace {

using std::chrono::milliseconds;

constexpr std::uint64_t ms_per_second = 1'000;
constexpr std::uint64_t ms_per_minute = 60 * ms_per_second;
constexpr std::uint64_t ms_per_hour = 60 * ms_per_minute;
constexpr std::uint64_t kib = 1024;
constexpr std::uint64_t mib = 1024 * kib;
constexpr std::uint64_t gib = 1024 * mib;

// The units a value may carry, largest first.
struct unit {
    std::string_view name;
    std::uint64_t factor;
};

constexpr std::array duration_units{unit{"h", ms_per_hour}, unit{"m", ms_per_minute},
                                    unit{"s", ms_per_second}, unit{"ms", 1}};
constexpr std::array size_units{unit{"GiB", gib}, unit{"MiB", mib}, unit{"KiB", kib}, unit{"", 1}};

// Longest value a message quotes; past it the value is cut, so the line stays one line.
constexpr std::size_t max_shown_bytes = 80;

// Accessors for the table: `in_server<&http::server_options::retry>` is a function that
// returns `cfg.server.retry`.
template <auto field> constexpr auto in_server = +[](config& c) -> auto& {
    return c.server.*field;
};

template <auto field> constexpr auto in_hub = +[](config& c) -> auto& {
    return c.hub.*field;
};

template <auto field> constexpr auto in_config = +[](config& c) -> auto& {
    return c.*field;
};

constexpr auto listener = +[](config& c) -> http::server_options& {
    return c.server;
};

// The checks of string settings: each returns why a value is refused, or nothing.

std::string check_log_level(std::string_view v) {
    constexpr std::array levels{"trace", "debug", "info", "warn", "error"};
    if (std::ranges::find(levels, v) != levels.end()) {
        return {};
    }
    return "expected trace, debug, info, warn or error";
}

std::string check_log_format(std::string_view v) {
    if (v == "text" || v == "json") {
        return {};
    }
    return "expected text or json";
}

std::string check_broker_url(std::string_view v) {
    auto parsed = broker::parse_broker_url(v);
    if (!parsed) {
        return parsed.error().message;
    }
    // Accepting the URL and serving alone would split the clients of several nodes without
    // a word; until the Redis broker exists, say so at start-up.
    if (parsed->type == broker::broker_url::kind::redis) {
        return "the Redis broker (DESIGN.md section 8) is not built yet; only memory runs";
    }
    return {};
}

// A browser sends `Origin: scheme://host[:port]` and nothing more, so an entry with a path
// or a trailing slash could never match; refuse it rather than let CORS fail in silence.
std::string check_origin(std::string_view v) {
    if (v == "*") {
        return {};
    }
    auto u = boost::urls::parse_uri(v);
    if (!u || (u->scheme() != "http" && u->scheme() != "https") || u->host().empty() ||
        u->has_userinfo() || !u->encoded_path().empty() || u->has_query() || u->has_fragment()) {
        return "expected * or an origin such as https://example.com:8443 (no path, no "
               "trailing slash)";
    }
    return {};
}

std::string check_url_prefix(std::string_view v) {
    auto u = boost::urls::parse_uri(v);
    if (!u || (u->scheme() != "http" && u->scheme() != "https") || u->host().empty()) {
        return "expected an http:// or https:// URL prefix";
    }
    return {};
}

// The auth.* settings sit two levels down; one accessor per field.
constexpr auto publisher_keys = +[](config& c) -> std::vector<std::string>& {
    return c.server.auth.publisher_keys;
};

constexpr auto subscriber_mode = +[](config& c) -> std::string& {
    return c.server.auth.subscriber_mode;
};

template <auto field>
constexpr auto publisher_jwt = +[](config& c) -> std::string& {
    return c.server.auth.publisher_jwt.*field;
};

template <auto field>
constexpr auto subscriber_jwt = +[](config& c) -> std::string& {
    return c.server.auth.subscriber_jwt.*field;
};

std::string check_publisher_key(std::string_view v) {
    auto parsed = http::parse_publisher_key(v);
    if (parsed) {
        return {};
    }
    return parsed.error().message;
}

std::string check_jwt_alg(std::string_view v) {
    if (v.empty() || v == "HS256" || v == "RS256" || v == "ES256") {
        return {};
    }
    return "expected HS256, RS256 or ES256 (or empty: no tokens)";
}

std::string check_subscriber_mode(std::string_view v) {
    if (v == "open" || v == "jwt") {
        return {};
    }
    return "expected open or jwt";
}

std::string check_tls_listen(std::string_view v) {
    if (v.empty()) {
        return {};
    }
    auto parsed = parse_listen(v);
    if (parsed) {
        return {};
    }
    return parsed.error().message;
}

std::string check_forward_url(std::string_view v) {
    if (v.empty()) {
        return {};
    }
    auto u = boost::urls::parse_absolute_uri(v);
    if (!u || u->scheme() != "http" || u->host().empty()) {
        return "expected an http:// URL";
    }
    return {};
}

// A file named by a setting must be there at start-up, not at the first call that needs it.
std::string check_readable_file(std::string_view v) {
    if (v.empty()) {
        return {};
    }
    std::ifstream in{std::string(v)};
    if (!in) {
        return "cannot read the file";
    }
    return {};
}

// The one option table. Every key of DESIGN.md section 9 that has a field in `config` is a
// row; the file reader, the environment and the command line all derive from it.
constexpr std::array options{
    option{.key = "server.listen",
           .type = option_type::address,
           .fallback = "127.0.0.1:8080",
           .help = "the HTTP listener; beyond loopback needs auth.publishers",
           .target = listener,
           .alias = "listen"},
    option{.key = "server.threads",
           .type = option_type::uint,
           .fallback = "0",
           .help = "worker threads; 0 means one per core",
           .target = in_server<&http::server_options::threads>,
           .max = 256},
    option{.key = "server.shutdown_deadline",
           .type = option_type::duration,
           .fallback = "10s",
           .help = "SIGTERM: time to flush, close and run actions",
           .target = in_server<&http::server_options::shutdown_deadline>,
           .max = ms_per_hour},
    option{.key = "server.request_timeout",
           .type = option_type::duration,
           .fallback = "30s",
           .help = "headers and body of one request (not streams)",
           .target = in_server<&http::server_options::request_timeout>,
           .min = 1,
           .max = ms_per_hour},
    option{.key = "stream.retry",
           .type = option_type::duration,
           .fallback = "2000ms",
           .help = "the retry: sent on connect, whole milliseconds",
           .target = in_server<&http::server_options::retry>,
           .max = 24 * ms_per_hour},
    option{.key = "stream.keepalive",
           .type = option_type::duration,
           .fallback = "10s",
           .help = "period of the keep-alive comment",
           .target = in_server<&http::server_options::keepalive>,
           .min = 100,
           .max = ms_per_hour},
    option{.key = "stream.outbound_limit",
           .type = option_type::size,
           .fallback = "4MiB",
           .help = "bytes queued for a connection before closing it",
           .target = in_server<&http::server_options::outbound_limit>,
           .min = 1},
    option{.key = "stream.write_timeout",
           .type = option_type::duration,
           .fallback = "30s",
           .help = "a write stalled this long ends the connection",
           .target = in_server<&http::server_options::write_timeout>,
           .min = 1,
           .max = ms_per_hour},
    option{.key = "session.grace",
           .type = option_type::duration,
           .fallback = "10s",
           .help = "a dropped session lives on this long (0s: no grace)",
           .target = in_hub<&hub_options::session_grace>,
           .max = 24 * ms_per_hour},
    option{.key = "history.session_events",
           .type = option_type::uint,
           .fallback = "100",
           .help = "events kept in a session's stream",
           .target = in_hub<&hub_options::session_history_events>,
           .max = 10'000'000},
    option{.key = "history.session_age",
           .type = option_type::duration,
           .fallback = "2m",
           .help = "age past which a session's events are dropped",
           .target = in_hub<&hub_options::session_history_age>,
           .max = 24 * ms_per_hour},
    option{.key = "history.channel_events",
           .type = option_type::uint,
           .fallback = "1000",
           .help = "events kept in a channel's stream",
           .target = in_hub<&hub_options::channel_history_events>,
           .max = 10'000'000},
    option{.key = "history.channel_age",
           .type = option_type::duration,
           .fallback = "5m",
           .help = "age past which a channel's events are dropped",
           .target = in_hub<&hub_options::channel_history_age>,
           .max = 24 * ms_per_hour},
    option{.key = "history.max_bytes",
           .type = option_type::size,
           .fallback = "256MiB",
           .help = "all history together; the oldest events go first",
           .target = in_hub<&hub_options::history_max_bytes>},
    option{.key = "limits.body",
           .type = option_type::size,
           .fallback = "1MiB",
           .help = "largest request body",
           .target = in_server<&http::server_options::body_limit>,
           .min = 1},
    option{.key = "limits.message",
           .type = option_type::size,
           .fallback = "1MiB",
           .help = "largest message, as JSON",
           .target = in_hub<&hub_options::message_limit>,
           .min = 1},
    option{.key = "limits.id_length",
           .type = option_type::uint,
           .fallback = "128",
           .help = "longest session or channel id, in bytes",
           .target = in_hub<&hub_options::id_length>,
           .min = 1,
           .max = 4096},
    option{.key = "limits.event_length",
           .type = option_type::uint,
           .fallback = "64",
           .help = "longest event name, in bytes",
           .target = in_hub<&hub_options::event_length>,
           .min = 1,
           .max = 4096},
    option{.key = "limits.channels_per_session",
           .type = option_type::uint,
           .fallback = "64",
           .help = "named channels one session may be in",
           .target = in_hub<&hub_options::channels_per_session>,
           .min = 1},
    option{.key = "limits.sessions_per_namespace",
           .type = option_type::uint,
           .fallback = "100000",
           .help = "sessions one namespace may hold",
           .target = in_hub<&hub_options::sessions_per_namespace>,
           .min = 1},
    option{.key = "limits.sessions_per_tenant",
           .type = option_type::uint,
           .fallback = "0",
           .help = "sessions of one tenant, all its namespaces together; 0: no limit",
           .target = in_hub<&hub_options::sessions_per_tenant>},
    option{.key = "limits.connections",
           .type = option_type::uint,
           .fallback = "100000",
           .help = "open streams in total",
           .target = in_server<&http::server_options::connections>,
           .min = 1},
    option{.key = "limits.connections_per_address",
           .type = option_type::uint,
           .fallback = "0",
           .help = "open streams per client address; 0: no limit",
           .target = in_server<&http::server_options::connections_per_address>},
    option{.key = "cors.allow_origins",
           .type = option_type::string_list,
           .fallback = "",
           .help = "origins allowed by CORS; * allows any",
           .target = in_server<&http::server_options::cors_allow_origins>,
           .check = check_origin},
    option{.key = "cors.allow_credentials",
           .type = option_type::boolean,
           .fallback = "false",
           .help = "let browsers send credentials; needs named origins, never *",
           .target = in_server<&http::server_options::cors_allow_credentials>},
    option{.key = "limits.headers",
           .type = option_type::size,
           .fallback = "16KiB",
           .help = "largest request line and headers together (431)",
           .target = in_server<&http::server_options::header_limit>,
           .min = 1024,
           .max = 4 * mib},
    option{.key = "limits.head_timeout",
           .type = option_type::duration,
           .fallback = "10s",
           .help = "request line and headers, from their first byte (408)",
           .target = in_server<&http::server_options::head_timeout>,
           .min = 1,
           .max = ms_per_hour},
    option{.key = "limits.publish_rate",
           .type = option_type::uint,
           .fallback = "0",
           .help = "control API requests per second per publisher (429); 0: no limit",
           .target = in_server<&http::server_options::publish_rate>,
           .max = 1'000'000},
    option{.key = "auth.publishers.keys",
           .type = option_type::string_list,
           .fallback = "",
           .help = "API keys: sha256:HEX [tenant=T] [rights=push+broadcast+...] [namespaces=N]",
           .target = publisher_keys,
           .check = check_publisher_key},
    option{.key = "auth.publishers.jwt_alg",
           .type = option_type::string,
           .fallback = "",
           .help = "publisher JWTs: HS256, RS256 or ES256; empty: none",
           .target = publisher_jwt<&http::jwt_options::alg>,
           .check = check_jwt_alg},
    option{.key = "auth.publishers.jwt_secret",
           .type = option_type::string,
           .fallback = "",
           .help = "HS256 secret of publisher JWTs",
           .target = publisher_jwt<&http::jwt_options::secret>},
    option{.key = "auth.publishers.jwt_key_file",
           .type = option_type::string,
           .fallback = "",
           .help = "RS256/ES256: PEM file of the publishers' public key",
           .target = publisher_jwt<&http::jwt_options::key_file>},
    option{.key = "auth.publishers.jwt_aud",
           .type = option_type::string,
           .fallback = "",
           .help = "audience publisher JWTs must name (aud)",
           .target = publisher_jwt<&http::jwt_options::audience>},
    option{.key = "auth.publishers.jwt_iss",
           .type = option_type::string,
           .fallback = "",
           .help = "issuer publisher JWTs must carry (iss)",
           .target = publisher_jwt<&http::jwt_options::issuer>},
    option{.key = "auth.subscribers.mode",
           .type = option_type::string,
           .fallback = "open",
           .help = "open, or jwt: streams need a token naming their session and channels",
           .target = subscriber_mode,
           .check = check_subscriber_mode},
    option{.key = "auth.subscribers.jwt_alg",
           .type = option_type::string,
           .fallback = "",
           .help = "subscriber JWTs: HS256, RS256 or ES256",
           .target = subscriber_jwt<&http::jwt_options::alg>,
           .check = check_jwt_alg},
    option{.key = "auth.subscribers.jwt_secret",
           .type = option_type::string,
           .fallback = "",
           .help = "HS256 secret of subscriber JWTs",
           .target = subscriber_jwt<&http::jwt_options::secret>},
    option{.key = "auth.subscribers.jwt_key_file",
           .type = option_type::string,
           .fallback = "",
           .help = "RS256/ES256: PEM file of the subscribers' public key",
           .target = subscriber_jwt<&http::jwt_options::key_file>},
    option{.key = "auth.subscribers.jwt_aud",
           .type = option_type::string,
           .fallback = "",
           .help = "audience subscriber JWTs must name (aud)",
           .target = subscriber_jwt<&http::jwt_options::audience>},
    option{.key = "auth.subscribers.jwt_iss",
           .type = option_type::string,
           .fallback = "",
           .help = "issuer subscriber JWTs must carry (iss)",
           .target = subscriber_jwt<&http::jwt_options::issuer>},
    option{.key = "tls.listen",
           .type = option_type::string,
           .fallback = "",
           .help = "HOST:PORT of a direct HTTPS listener; empty: none",
           .target = in_server<&http::server_options::tls_listen>,
           .check = check_tls_listen},
    option{.key = "tls.cert",
           .type = option_type::string,
           .fallback = "",
           .help = "PEM certificate chain of the HTTPS listener",
           .target = in_server<&http::server_options::tls_cert>},
    option{.key = "tls.key",
           .type = option_type::string,
           .fallback = "",
           .help = "PEM private key of the HTTPS listener",
           .target = in_server<&http::server_options::tls_key>},
    option{.key = "webhooks.allow",
           .type = option_type::string_list,
           .fallback = "",
           .help = "URL prefixes the webhook action may post to",
           .target = in_config<&config::webhooks_allow>,
           .check = check_url_prefix},
    option{.key = "webhooks.timeout",
           .type = option_type::duration,
           .fallback = "5s",
           .help = "one webhook attempt: connect, send and answer",
           .target = in_config<&config::webhooks_timeout>,
           .min = 1,
           .max = 10 * ms_per_minute},
    option{.key = "webhooks.retries",
           .type = option_type::uint,
           .fallback = "3",
           .help = "attempts after a failed first one, with doubling backoff",
           .target = in_config<&config::webhooks_retries>,
           .max = 10},
    option{.key = "webhooks.secret",
           .type = option_type::string,
           .fallback = "",
           .help = "HMAC-SHA256 key of the X-Ssehub-Signature header; none when empty",
           .target = in_config<&config::webhooks_secret>},
    option{.key = "webhooks.backoff",
           .type = option_type::duration,
           .fallback = "200ms",
           .help = "wait before the first retry, doubled before each next one",
           .target = in_config<&config::webhooks_backoff>,
           .max = ms_per_hour},
    option{.key = "webhooks.queue",
           .type = option_type::uint,
           .fallback = "10000",
           .help = "webhook calls waiting or under way at most; past it they are dropped",
           .target = in_config<&config::webhooks_queue>,
           .min = 1,
           .max = 10'000'000},
    option{.key = "webhooks.concurrency",
           .type = option_type::uint,
           .fallback = "32",
           .help = "webhook calls under way at once",
           .target = in_config<&config::webhooks_concurrency>,
           .min = 1,
           .max = 1024},
    option{.key = "webhooks.ca_file",
           .type = option_type::string,
           .fallback = "",
           .help = "PEM file of the CAs https:// receivers must chain to; empty: the system's",
           .target = in_config<&config::webhooks_ca_file>,
           .check = check_readable_file},
    option{.key = "actions.forward_url",
           .type = option_type::string,
           .fallback = "",
           .help = "http:// URL pins of other libraries are POSTed to as {pin, context}",
           .target = in_config<&config::actions_forward_url>,
           .check = check_forward_url},
    option{.key = "broker.url",
           .type = option_type::string,
           .fallback = "memory",
           .help = "memory (redis://HOST:PORT/DB across nodes is not built yet)",
           .target = in_config<&config::broker_url>,
           .check = check_broker_url},
    option{.key = "log.level",
           .type = option_type::string,
           .fallback = "info",
           .help = "trace, debug, info, warn or error",
           .target = in_config<&config::log_level>,
           .check = check_log_level},
    option{.key = "log.format",
           .type = option_type::string,
           .fallback = "text",
           .help = "text, or json: one JSON object per line",
           .target = in_config<&config::log_format>,
           .check = check_log_format},
};

using string_field = std::string& (*)(config&);
using bool_field = bool& (*)(config&);
using count_field = std::size_t& (*)(config&);
using duration_field = milliseconds& (*)(config&);
using list_field = std::vector<std::string>& (*)(config&);
using listener_field = http::server_options& (*)(config&);

// A row's accessor must match its type; checked here, so the loader's std::get never throws.
constexpr bool target_fits(const option& row) {
    switch (row.type) {
    case option_type::string:
        return std::holds_alternative<string_field>(row.target);
    case option_type::boolean:
        return std::holds_alternative<bool_field>(row.target);
    case option_type::uint:
    case option_type::size:
        return std::holds_alternative<count_field>(row.target);
    case option_type::duration:
        return std::holds_alternative<duration_field>(row.target);
    case option_type::string_list:
        return std::holds_alternative<list_field>(row.target);
    case option_type::address:
        return std::holds_alternative<listener_field>(row.target);
    }
    return false;
}

static_assert(std::ranges::all_of(options, target_fits));

error reason(std::string text) {
    return make_error(errc::bad_request, std::move(text));
}

std::string expected(option_type type) {
    switch (type) {
    case option_type::string:
        return "expected a string";
    case option_type::boolean:
        return "expected true or false";
    case option_type::uint:
        return "expected a whole number";
    case option_type::duration:
        return "expected a duration with a unit, such as \"500ms\", \"10s\", \"5m\" or \"1h\"";
    case option_type::size:
        return "expected a size, such as \"4MiB\" or \"512KiB\", or a number of bytes";
    case option_type::string_list:
        return "expected a list of strings";
    case option_type::address:
        return "expected HOST:PORT, such as \"127.0.0.1:8080\"";
    }
    return "expected another value";
}

// `value` quoted for a message: escapes for quotes, backslashes and control bytes, and cut
// past max_shown_bytes.
std::string quote(std::string_view value) {
    std::string out = "\"";
    for (const char c : value.substr(0, max_shown_bytes)) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (byte < 0x20 || byte == 0x7f) {
            constexpr std::string_view hex = "0123456789abcdef";
            out += "\\x";
            out += hex[byte >> 4];
            out += hex[byte & 0xf];
        } else {
            out += c;
        }
    }
    out += value.size() > max_shown_bytes ? "...\"" : "\"";
    return out;
}

// toml++'s description of a syntax error, which may quote raw bytes of the file (a line
// break, found by fuzz_config), with control bytes escaped so the message stays one line.
std::string one_line(std::string_view text) {
    std::string out;
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) {
            constexpr std::string_view hex = "0123456789abcdef";
            out += "\\x";
            out += hex[byte >> 4];
            out += hex[byte & 0xf];
        } else {
            out += c;
        }
    }
    return out;
}

// A TOML value as a message shows it: strings quoted like the other sources' values.
std::string render(const toml::node& node) {
    if (const auto* s = node.as_string()) {
        return quote(s->get());
    }
    if (const auto* a = node.as_array()) {
        std::string out = "[";
        for (const auto& element : *a) {
            out += out.size() > 1 ? ", " : "";
            out += render(element);
        }
        return out + "]";
    }
    std::ostringstream out;
    node.visit([&out](const auto& n) { out << n; });
    std::string text = out.str();
    std::ranges::replace(text, '\n', ' ');
    return text.size() > max_shown_bytes ? text.substr(0, max_shown_bytes) + "..." : text;
}

// A bound in the row's own unit: `24h`, `1MiB`, `256`.
std::string show_amount(option_type type, std::uint64_t n) {
    if (type != option_type::duration && type != option_type::size) {
        return std::to_string(n);
    }
    const auto& units = type == option_type::duration ? duration_units : size_units;
    const auto* best = std::ranges::find_if(
        units, [n](const unit& u) { return n % u.factor == 0 && (n != 0 || u.factor == 1); });
    return std::to_string(n / best->factor) + std::string(best->name);
}

result<void> within_bounds(const option& row, std::uint64_t n) {
    if (n >= row.min && n <= row.max) {
        return {};
    }
    const bool no_max = row.max == std::numeric_limits<std::uint64_t>::max();
    if (no_max) {
        return reason("must be at least " + show_amount(row.type, row.min));
    }
    if (row.min == 0) {
        return reason("must be at most " + show_amount(row.type, row.max));
    }
    return reason("must be between " + show_amount(row.type, row.min) + " and " +
                  show_amount(row.type, row.max));
}

result<void> vet(const option& row, std::string_view text) {
    if (row.check == nullptr) {
        return {};
    }
    std::string why = row.check(text);
    if (why.empty()) {
        return {};
    }
    return reason(std::move(why));
}

// A value as a source hands it over: text (the environment, the command line, a TOML
// string), a TOML integer or boolean, or a list (a TOML array, a repeated flag).
using given = std::variant<std::string, std::int64_t, bool, std::vector<std::string>>;

// List elements are trimmed and empty ones dropped, so `a, b,` and `["a", "b"]` agree.
std::vector<std::string> normalise_list(const std::vector<std::string>& items) {
    std::vector<std::string> out;
    for (const auto& item : items) {
        const auto first = item.find_first_not_of(" \t");
        if (first == std::string::npos) {
            continue;
        }
        const auto last = item.find_last_not_of(" \t");
        out.push_back(item.substr(first, last - first + 1));
    }
    return out;
}

std::vector<std::string> split_list(std::string_view text) {
    std::vector<std::string> items;
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto comma = std::min(text.find(',', start), text.size());
        items.emplace_back(text.substr(start, comma - start));
        start = comma + 1;
    }
    return normalise_list(items);
}

result<std::uint64_t> to_number(const option& row, const given& value) {
    if (const auto* n = std::get_if<std::int64_t>(&value)) {
        if (*n < 0) {
            return reason("must not be negative");
        }
        return static_cast<std::uint64_t>(*n);
    }
    const auto* text = std::get_if<std::string>(&value);
    if (text == nullptr) {
        return reason(expected(row.type));
    }
    return row.type == option_type::size ? parse_size(*text) : parse_uint(*text);
}

// Parses `value` by the row's type and stores it in `cfg`. The error is the reason only;
// the caller adds the key, the value and the source.
result<void> assign(const option& row, const given& value, config& cfg) {
    const auto* text = std::get_if<std::string>(&value);
    switch (row.type) {
    case option_type::string: {
        if (text == nullptr) {
            return reason(expected(row.type));
        }
        if (auto ok = vet(row, *text); !ok) {
            return ok;
        }
        std::get<string_field>(row.target)(cfg) = *text;
        return {};
    }
    case option_type::boolean: {
        const auto* flag = std::get_if<bool>(&value);
        if (flag == nullptr && text == nullptr) {
            return reason(expected(row.type));
        }
        auto parsed = flag != nullptr ? result<bool>(*flag) : parse_bool(*text);
        if (!parsed) {
            return parsed.error();
        }
        std::get<bool_field>(row.target)(cfg) = *parsed;
        return {};
    }
    case option_type::uint:
    case option_type::size: {
        auto n = to_number(row, value);
        if (!n) {
            return n.error();
        }
        if (auto ok = within_bounds(row, *n); !ok) {
            return ok;
        }
        std::get<count_field>(row.target)(cfg) = *n;
        return {};
    }
    case option_type::duration: {
        if (text == nullptr) {
            return reason(expected(row.type));
        }
        auto d = parse_duration(*text);
        if (!d) {
            return d.error();
        }
        if (auto ok = within_bounds(row, static_cast<std::uint64_t>(d->count())); !ok) {
            return ok;
        }
        std::get<duration_field>(row.target)(cfg) = *d;
        return {};
    }
    case option_type::string_list: {
        const auto* items = std::get_if<std::vector<std::string>>(&value);
        if (text == nullptr && items == nullptr) {
            return reason(expected(row.type));
        }
        auto list = text != nullptr ? split_list(*text) : normalise_list(*items);
        for (const auto& item : list) {
            if (auto ok = vet(row, item); !ok) {
                return reason(quote(item) + ": " + ok.error().message);
            }
        }
        std::get<list_field>(row.target)(cfg) = std::move(list);
        return {};
    }
    case option_type::address: {
        if (text == nullptr) {
            return reason(expected(row.type));
        }
        auto address = parse_listen(*text);
        if (!address) {
            return address.error();
        }
        auto& server = std::get<listener_field>(row.target)(cfg);
        server.address = std::move(address->host);
        server.port = address->port;
        return {};
    }
    }
    return reason(expected(row.type));
}

result<given> from_toml(const option& row, const toml::node& node) {
    if (const auto* s = node.as_string()) {
        return given{s->get()};
    }
    if (const auto* n = node.as_integer()) {
        return given{n->get()};
    }
    if (const auto* b = node.as_boolean()) {
        return given{b->get()};
    }
    if (const auto* a = node.as_array()) {
        std::vector<std::string> items;
        for (const auto& element : *a) {
            const auto* s = element.as_string();
            if (s == nullptr) {
                return reason(expected(row.type));
            }
            items.push_back(s->get());
        }
        return given{std::move(items)};
    }
    return reason(expected(row.type));
}

// Edit distance, for the "did you mean" of an unknown key.
std::size_t distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            const std::size_t change = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
            row[j] = std::min({above + 1, row[j - 1] + 1, change});
            diagonal = above;
        }
    }
    return row[b.size()];
}

// `unknown key`, with the nearest spelling of a known one when it is close enough to be
// a typo. `spell` gives a row's name in the source's own form.
template <class Spell> std::string unknown_key(std::string_view name, Spell spell) {
    std::string best;
    std::size_t best_distance = name.size() / 3 + 1;
    for (const auto& row : options) {
        std::string candidate = spell(row);
        const std::size_t d = distance(name, candidate);
        if (d < best_distance) {
            best = std::move(candidate);
            best_distance = d;
        }
    }
    return best.empty() ? "unknown key" : "unknown key; did you mean " + best + "?";
}

std::string key_spelling(const option& row) {
    return std::string(row.key);
}

std::string env_spelling(const option& row) {
    return env_name(row.key);
}

// Where a value came from, and the value as a message shows it.
struct origin {
    std::string where; ///< `environment SSEHUB_STREAM_RETRY`, `file a.toml, line 3`, ...
    std::string shown; ///< `"0.5s"`, `[ "a", "b" ]`, `42`
};

// The one line of a refused setting: `configuration error: KEY = VALUE (SOURCE): REASON`.
error setting_error(std::string_view key, const origin& from, std::string_view why) {
    std::string line = "configuration error: ";
    line += key;
    line += " = ";
    line += from.shown;
    line += " (";
    line += from.where;
    line += "): ";
    line += why;
    return make_error(errc::bad_request, std::move(line), std::string(key));
}

const option* find_key(std::string_view key) {
    const auto* it = std::ranges::find(options, key, &option::key);
    return it == options.end() ? nullptr : it;
}

std::size_t index_of(const option& row) {
    return static_cast<std::size_t>(&row - options.data());
}

// One TOML value that is not a table, with its dotted key.
struct toml_leaf {
    std::string key;
    const toml::node* node;
};

void collect_leaves(const toml::table& table, const std::string& prefix,
                    std::vector<toml_leaf>& out) {
    for (const auto& [name, node] : table) {
        std::string key =
            prefix.empty() ? std::string(name.str()) : prefix + "." + std::string(name.str());
        if (const auto* sub = node.as_table()) {
            collect_leaves(*sub, key, out);
        } else {
            out.push_back({std::move(key), &node});
        }
    }
}

// Applies the sources one after another onto one configuration, remembering where each
// setting's value came from so that a later check can name it.
class loader {
public:
    result<void> apply_defaults() {
        for (const auto& row : options) {
            origin from{"default", quote(row.fallback)};
            if (auto ok = assign(row, given{std::string(row.fallback)}, cfg_); !ok) {
                return setting_error(row.key, from, ok.error().message);
            }
            origins_[index_of(row)] = std::move(from);
        }
        return {};
    }

    result<void> apply_file(const config_file& file) {
        toml::table root;
        try {
            root = toml::parse(file.text, std::string_view{file.name});
        } catch (const toml::parse_error& e) {
            const auto& at = e.source().begin;
            std::string line = "configuration error: file " + file.name +
                               " is not valid TOML (line " + std::to_string(at.line) + ", column " +
                               std::to_string(at.column) + "): " + one_line(e.description());
            return make_error(errc::bad_request, std::move(line));
        }

        if (auto ok = take_routes(root, file.name); !ok) {
            return ok;
        }

        // Report problems in the order of the file, not of toml++'s sorted tables.
        std::vector<toml_leaf> leaves;
        collect_leaves(root, "", leaves);
        std::ranges::sort(leaves, [](const toml_leaf& a, const toml_leaf& b) {
            return a.node->source().begin < b.node->source().begin;
        });

        for (const auto& leaf : leaves) {
            origin from{"file " + file.name + ", line " +
                            std::to_string(leaf.node->source().begin.line),
                        render(*leaf.node)};
            const option* row = find_key(leaf.key);
            if (row == nullptr) {
                return setting_error(leaf.key, from, unknown_key(leaf.key, key_spelling));
            }
            auto value = from_toml(*row, *leaf.node);
            if (!value) {
                return setting_error(row->key, from, value.error().message);
            }
            if (auto ok = take(*row, *value, std::move(from)); !ok) {
                return ok;
            }
        }
        return {};
    }

    result<void> apply_environment(std::span<const env_var> env) {
        std::array<std::string_view, options.size()> set_by{};
        for (const auto& var : env) {
            // The client commands' variables are not settings of the hub.
            if (!var.name.starts_with("SSEHUB_") || var.name == "SSEHUB_URL" ||
                var.name == "SSEHUB_TOKEN" || var.name == "SSEHUB_CA_FILE" ||
                var.name == "SSEHUB_CONFIG") {
                continue;
            }
            origin from{"environment " + var.name, quote(var.value)};
            const auto* row = std::ranges::find_if(options, [&var](const option& o) {
                return env_name(o.key) == var.name ||
                       (!o.alias.empty() && env_name(o.alias) == var.name);
            });
            if (row == options.end()) {
                return setting_error(var.name, {"environment", quote(var.value)},
                                     unknown_key(var.name, env_spelling));
            }

            // SSEHUB_LISTEN and SSEHUB_SERVER_LISTEN together would make one of them a
            // silent no-op; refuse the pair.
            auto& first = set_by[index_of(*row)];
            if (!first.empty() && first != var.name) {
                return setting_error(row->key, from,
                                     "also set by " + std::string(first) + "; keep only one");
            }
            first = var.name;
            if (auto ok = take(*row, given{var.value}, std::move(from)); !ok) {
                return ok;
            }
        }
        return {};
    }

    result<void> apply_command_line(const command_line& cli) {
        for (const auto& setting : cli.settings) {
            std::string joined;
            for (const auto& v : setting.values) {
                joined += joined.empty() ? v : "," + v;
            }
            origin from{"command line " + setting.flag, quote(joined)};
            const option* row = find_key(setting.key);
            if (row == nullptr) {
                return setting_error(setting.key, from, unknown_key(setting.key, key_spelling));
            }
            given value = row->type == option_type::string_list
                              ? given{setting.values}
                              : given{setting.values.empty() ? "" : setting.values.back()};
            if (auto ok = take(*row, value, std::move(from)); !ok) {
                return ok;
            }
        }
        return {};
    }

    // Rules that concern the configuration as a whole, once every source is in.
    result<void> check_whole() const {
        const auto& auth = cfg_.server.auth;

        // DESIGN.md section 6: beyond loopback, publishers must prove who they are.
        if (!is_loopback(cfg_.server.address) && !auth.publishers_configured()) {
            return refuse("server.listen",
                          "listening beyond loopback requires publisher credentials; set "
                          "auth.publishers.keys or auth.publishers.jwt_alg");
        }
        if (auto ok = check_tls(); !ok) {
            return ok;
        }
        if (auto ok = check_jwt("auth.publishers", auth.publisher_jwt); !ok) {
            return ok;
        }
        if (auth.subscriber_mode == "jwt" && auth.subscriber_jwt.alg.empty()) {
            return refuse("auth.subscribers.mode",
                          "jwt mode needs auth.subscribers.jwt_alg and its secret or key file");
        }
        if (auto ok = check_jwt("auth.subscribers", auth.subscriber_jwt); !ok) {
            return ok;
        }

        // F21: a browser refuses credentials with `*`, so the pair can only fail later.
        const auto& origins = cfg_.server.cors_allow_origins;
        if (cfg_.server.cors_allow_credentials &&
            std::ranges::find(origins, "*") != origins.end()) {
            return refuse("cors.allow_origins",
                          "* cannot be used with cors.allow_credentials = true; name the "
                          "origins");
        }
        return {};
    }

    config take_config() { return std::move(cfg_); }

    // `[[routes]]`: an array of tables with `path` and `connect` (pins). Taken out of the
    // tree, which otherwise holds only the table's keys. The pins are checked later, by
    // the engine that will run them.
    result<void> take_routes(toml::table& root, const std::string& file) {
        auto* node = root.get("routes");
        if (node == nullptr) {
            return {};
        }
        auto fail = [&](std::size_t i, std::string_view why) {
            return make_error(errc::bad_request,
                              "configuration error: file " + file + ": routes[" +
                                  std::to_string(i) + "] " + std::string(why),
                              "routes");
        };
        const auto* list = node->as_array();
        if (list == nullptr || !list->is_array_of_tables()) {
            return fail(0, "must be an array of tables: [[routes]]");
        }
        for (std::size_t i = 0; i < list->size(); ++i) {
            const auto& table = *list->get(i)->as_table();
            const auto path = table["path"].value<std::string>();
            if (!path || !path->starts_with('/')) {
                return fail(i, "needs path, such as \"/common/notification\"");
            }
            const auto* connect = table["connect"].as_array();
            if (connect == nullptr) {
                return fail(i, "needs connect, an array of pins");
            }
            for (const auto& [key, value] : table) {
                if (key.str() != "path" && key.str() != "connect") {
                    return fail(i, "has an unknown key " + quote(key.str()));
                }
            }
            std::ostringstream text;
            text << toml::json_formatter{*connect};
            boost::system::error_code ec;
            auto pins = boost::json::parse(text.str(), ec);
            if (ec) {
                return fail(i, "connect is not representable as JSON");
            }
            cfg_.server.routes.push_back({*path, std::move(pins)});
        }
        root.erase("routes");
        return {};
    }

private:
    error refuse(std::string_view key, std::string_view why) const {
        const option& row = *find_key(key);
        return setting_error(row.key, origins_[index_of(row)], why);
    }

    // The HTTPS listener needs its certificate and key, and follows the loopback rule.
    result<void> check_tls() const {
        const auto& server = cfg_.server;
        if (server.tls_listen.empty()) {
            return {};
        }
        if (server.tls_cert.empty() || server.tls_key.empty()) {
            return refuse("tls.listen", "an HTTPS listener needs tls.cert and tls.key");
        }
        auto address = parse_listen(server.tls_listen);
        if (address && !is_loopback(address->host) && !server.auth.publishers_configured()) {
            return refuse("tls.listen",
                          "listening beyond loopback requires publisher credentials; set "
                          "auth.publishers.keys or auth.publishers.jwt_alg");
        }
        return {};
    }

    // An algorithm needs what verifies it: a secret for HS256, a key file for the others.
    result<void> check_jwt(std::string_view prefix, const http::jwt_options& jwt) const {
        const std::string p(prefix);
        if (jwt.alg == "HS256" && jwt.secret.empty()) {
            return refuse(p + ".jwt_alg", "HS256 needs " + p + ".jwt_secret");
        }
        if ((jwt.alg == "RS256" || jwt.alg == "ES256") && jwt.key_file.empty()) {
            return refuse(p + ".jwt_alg", jwt.alg + " needs " + p + ".jwt_key_file (PEM)");
        }
        return {};
    }

    result<void> take(const option& row, const given& value, origin from) {
        if (auto ok = assign(row, value, cfg_); !ok) {
            return setting_error(row.key, from, ok.error().message);
        }
        origins_[index_of(row)] = std::move(from);
        return {};
    }

    config cfg_;
    std::array<origin, options.size()> origins_;
};

std::string upper_snake(std::string_view key) {
    std::string out;
    for (const char c : key) {
        out += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return out;
}

std::string_view type_label(option_type type) {
    switch (type) {
    case option_type::string:
        return "TEXT";
    case option_type::boolean:
        return "BOOL";
    case option_type::uint:
        return "UINT";
    case option_type::duration:
        return "DURATION";
    case option_type::size:
        return "SIZE";
    case option_type::string_list:
        return "LIST";
    case option_type::address:
        return "HOST:PORT";
    }
    return "VALUE";
}

} // namespace

std::span<const option> config_options() noexcept {
    return options;
}

std::string env_name(std::string_view key) {
    return "SSEHUB_" + upper_snake(key);
}

std::string flag_name(std::string_view key) {
    std::string out = "--";
    for (const char c : key) {
        out += c == '.' || c == '_' ? '-' : c;
    }
    return out;
}

std::vector<env_var> process_environment() {
    std::vector<env_var> out;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string_view text = *entry;
        const auto equals = text.find('=');
        if (equals == std::string_view::npos) {
            continue;
        }
        out.push_back({std::string(text.substr(0, equals)), std::string(text.substr(equals + 1))});
    }
    return out;
}

void add_config_options(CLI::App& cmd, command_line& out) {
    cmd.add_option_function<std::string>(
           "--config", [&out](const std::string& path) { out.config_file = path; },
           "TOML file read before the environment and the command line (also SSEHUB_CONFIG)")
        ->type_name("FILE")
        ->take_last();

    for (const auto& row : options) {
        std::string names = flag_name(row.key);
        std::string flag = names;
        if (!row.alias.empty()) {
            flag = "--" + std::string(row.alias);
            names += "," + flag;
        }
        std::string help = std::string(row.help);
        if (!row.fallback.empty()) {
            help += " [" + std::string(row.fallback) + "]";
        }
        // Grouped under the file's table: `[server]`, `[stream]`, ...
        const std::string section = "[" + std::string(row.key.substr(0, row.key.find('.'))) + "]";

        CLI::Option* added = nullptr;
        if (row.type == option_type::string_list) {
            auto record = [&out, key = row.key, flag](const std::vector<std::string>& values) {
                out.settings.push_back({std::string(key), flag, values});
            };
            added = cmd.add_option_function<std::vector<std::string>>(names, record, help)
                        ->delimiter(',')
                        ->allow_extra_args(false);
        } else {
            auto record = [&out, key = row.key, flag](const std::string& value) {
                out.settings.push_back({std::string(key), flag, {value}});
            };
            added = cmd.add_option_function<std::string>(names, record, help)->take_last();
        }
        added->type_name(std::string(type_label(row.type)))->group(section);
    }
}

result<std::optional<config_file>> read_config_file(const command_line& cli,
                                                    std::span<const env_var> env) {
    std::optional<std::string> path = cli.config_file;
    std::string where = "command line --config";
    if (!path) {
        const auto var = std::ranges::find(env, std::string_view{"SSEHUB_CONFIG"}, &env_var::name);
        if (var == env.end() || var->value.empty()) {
            return std::optional<config_file>{};
        }
        path = var->value;
        where = "environment SSEHUB_CONFIG";
    }

    auto fail = [&](std::string_view why) {
        return make_error(errc::bad_request,
                          "configuration error: cannot read the file " + quote(*path) + " (" +
                              where + "): " + std::string(why),
                          "config");
    };
    std::error_code ec;
    if (std::filesystem::is_directory(*path, ec)) {
        return fail("it is a directory");
    }
    std::ifstream in(*path, std::ios::binary);
    if (!in) {
        return fail(std::strerror(errno));
    }
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad()) {
        return fail("read error");
    }
    return std::optional<config_file>{config_file{*path, std::move(text)}};
}

result<config> load_config(const command_line& cli, std::span<const env_var> env,
                           const std::optional<config_file>& file) {
    loader load;
    if (auto ok = load.apply_defaults(); !ok) {
        return ok.error();
    }
    if (file) {
        if (auto ok = load.apply_file(*file); !ok) {
            return ok.error();
        }
    }
    if (auto ok = load.apply_environment(env); !ok) {
        return ok.error();
    }
    if (auto ok = load.apply_command_line(cli); !ok) {
        return ok.error();
    }
    if (auto ok = load.check_whole(); !ok) {
        return ok.error();
    }
    return load.take_config();
}

result<std::uint64_t> parse_uint(std::string_view text) {
    if (text.empty() || !std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; })) {
        return reason("expected a whole number");
    }
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{}) {
        return reason("too large");
    }
    return n;
}

result<bool> parse_bool(std::string_view text) {
    for (const std::string_view yes : {"true", "1", "yes", "on"}) {
        if (text == yes) {
            return true;
        }
    }
    for (const std::string_view no : {"false", "0", "no", "off"}) {
        if (text == no) {
            return false;
        }
    }
    return reason("expected true or false");
}

namespace {

// Splits `text` into its leading digits and the rest; the digits must be there and fit.
struct amount {
    std::uint64_t n = 0;
    std::string_view unit;
};

result<amount> split_amount(std::string_view text, std::string_view example) {
    const auto digits = std::min(text.find_first_not_of("0123456789"), text.size());
    if (digits == 0) {
        return reason("expected " + std::string(example));
    }
    amount out;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + digits, out.n);
    if (ec != std::errc{}) {
        return reason("too large");
    }
    out.unit = text.substr(digits);
    if (out.unit.starts_with('.') || out.unit.starts_with(',')) {
        return reason("not a whole number; use a smaller unit (500ms rather than 0.5s)");
    }
    return out;
}

result<std::uint64_t> scale(std::uint64_t n, std::uint64_t factor, std::uint64_t limit) {
    if (n > limit / factor) {
        return reason("too large");
    }
    return n * factor;
}

} // namespace

result<milliseconds> parse_duration(std::string_view text) {
    auto a = split_amount(text, "a duration with a unit, such as 500ms, 10s, 5m or 1h");
    if (!a) {
        return a.error();
    }
    if (a->unit.empty()) {
        return reason("missing a unit: write 500ms, 10s, 5m or 1h");
    }

    const auto* u = std::ranges::find(duration_units, a->unit, &unit::name);
    if (u == duration_units.end()) {
        return reason("unknown unit " + quote(a->unit) + "; use ms, s, m or h");
    }

    constexpr auto limit =
        static_cast<std::uint64_t>(std::numeric_limits<milliseconds::rep>::max());
    auto n = scale(a->n, u->factor, limit);
    if (!n) {
        return n.error();
    }
    return milliseconds{static_cast<milliseconds::rep>(*n)};
}

result<std::uint64_t> parse_size(std::string_view text) {
    auto a = split_amount(text, "a size, such as 4MiB or 512KiB, or a number of bytes");
    if (!a) {
        return a.error();
    }

    const auto* u = std::ranges::find(size_units, a->unit, &unit::name);
    if (u == size_units.end()) {
        return reason("unknown unit " + quote(a->unit) +
                      "; use KiB, MiB or GiB (powers of 1024), or a number of bytes");
    }
    return scale(a->n, u->factor, std::numeric_limits<std::size_t>::max());
}

result<listen_address> parse_listen(std::string_view text) {
    std::string_view host;
    std::string_view port;
    if (text.starts_with('[')) {
        const auto close = text.find(']');
        if (close == std::string_view::npos || text.substr(close + 1).find(':') != 0) {
            return reason("expected [IPv6]:PORT, such as [::1]:8080");
        }
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) {
            return reason("expected HOST:PORT, such as 127.0.0.1:8080");
        }
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) {
            return reason("write an IPv6 address in brackets, such as [::1]:8080");
        }
    }
    if (host.empty()) {
        return reason("missing the host: expected HOST:PORT, such as 127.0.0.1:8080");
    }

    auto n = parse_uint(port);
    if (!n || *n > 65535) {
        return reason("the port must be a number from 0 to 65535");
    }

    listen_address out;
    out.port = static_cast<std::uint16_t>(*n);
    if (host == "localhost") {
        out.host = "127.0.0.1";
        return out;
    }
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(std::string(host), ec);
    if (ec) {
        return reason(quote(host) + " is not an IP address (nor localhost)");
    }
    out.host = address.to_string();
    return out;
}

bool is_loopback(std::string_view host) {
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(std::string(host), ec);
    if (ec) {
        return false;
    }
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        const auto v4 =
            boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6());
        return v4.is_loopback();
    }
    return address.is_loopback();
}

} // namespace ssehub::app
