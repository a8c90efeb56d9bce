// SPDX-License-Identifier: Apache-2.0
#include "options.hpp"

#include <arpa/inet.h>
#include <charconv>
#include <cstdio>
#include <functional>
#include <map>

namespace ssehub::bench {

namespace {

constexpr std::string_view usage_text = R"(usage: ssehub-load [OPTIONS]

Opens N concurrent SSE streams, optionally publishes to them, and prints one JSON line
(stdout) and a summary (stderr). A bench event is one whose data holds "ts":<ns>, the
publisher's CLOCK_REALTIME in nanoseconds; its latency is the receiver's clock minus that.

subscribers
  --url TEMPLATE          stream URL, http://HOST:PORT/PATH; {i} is the connection index
  --connections N         streams to open (default 0)
  --concurrency K         connects in flight at once (default 0: all at once)
  --header 'NAME: VALUE'  extra request header, repeatable; {i} is the connection index
  --sources K             source addresses 127.77.x.y to spread over (default: 1 per 1,000)
  --connect-timeout MS    give up on streams not streaming by then (default 30000)
  --settle MS             wait after all stream, before measuring and publishing (500)
  --hold MS               keep the streams open this long after measuring (default 0)

publishers (keep-alive connections)
  --publish-url TEMPLATE  where to publish; {seq} is the message number
  --publish-body TEMPLATE request body; {ts} = CLOCK_REALTIME ns, {seq} = message number
                          (default {"message":{"ts":{ts},"seq":{seq}}})
  --publish-method M      POST (default) or PUT
  --content-type T        (default application/json)
  --publish-header 'N: V' extra header on each publish, repeatable
  --publishers K          connections (default 1)
  --rate R                messages per second in total (default 0: flat out)
  --burst B               messages sent back to back at each tick of the rate (default 1)
  --messages M            messages to publish
  --duration MS           or publish for this long
  --drain MS              wait for deliveries after the last publish (default 10000)

replay
  --replay M              with one stream: receive one event, disconnect, publish M, then
                          resume with Last-Event-ID and time the arrival of the M-th event

server probes
  --server-pids P[,P...]  processes whose RSS and CPU time (from /proc) are reported
  --quiet                 no summary on stderr
  --check                 exit status 1 when a stream failed or dropped, a publish was
                          refused, an event was lost or a replay came back incomplete
)";

template <typename T> bool parse_number(std::string_view text, T& out) {
    const auto [p, e] = std::from_chars(text.data(), text.data() + text.size(), out);
    return e == std::errc{} && p == text.data() + text.size();
}

bool parse_ms(std::string_view text, std::chrono::milliseconds& out) {
    long long ms = 0;
    if (!parse_number(text, ms) || ms < 0) {
        return false;
    }
    out = std::chrono::milliseconds{ms};
    return true;
}

bool parse_rate(std::string_view text, double& out) {
    // from_chars for double is in GCC 12's library.
    const auto [p, e] = std::from_chars(text.data(), text.data() + text.size(), out);
    return e == std::errc{} && p == text.data() + text.size() && out >= 0;
}

bool parse_pids(std::string_view text, std::vector<pid_t>& out) {
    while (!text.empty()) {
        const auto comma = text.find(',');
        int pid = 0;
        if (!parse_number(text.substr(0, comma), pid) || pid <= 0) {
            return false;
        }
        out.push_back(pid);
        text = comma == std::string_view::npos ? "" : text.substr(comma + 1);
    }
    return true;
}

} // namespace

std::optional<http_url> parse_url(std::string_view text, std::string& error) {
    constexpr std::string_view scheme = "http://";
    if (!text.starts_with(scheme)) {
        error = "only http:// URLs are supported";
        return std::nullopt;
    }
    text.remove_prefix(scheme.size());
    const auto slash = text.find('/');
    const std::string_view authority = text.substr(0, slash);
    http_url url;
    url.target = slash == std::string_view::npos ? "/" : std::string(text.substr(slash));
    url.host = std::string(authority);

    const auto colon = authority.rfind(':');
    std::string host(authority.substr(0, colon));
    if (colon != std::string_view::npos && !parse_number(authority.substr(colon + 1), url.port)) {
        error = "bad port in " + std::string(authority);
        return std::nullopt;
    }
    if (host == "localhost") {
        host = "127.0.0.1";
    }
    in_addr addr{};
    if (inet_pton(AF_INET, host.c_str(), &addr) != 1) {
        error = "the host must be an IPv4 address or localhost: " + host;
        return std::nullopt;
    }
    url.address = ntohl(addr.s_addr);
    return url;
}

std::string substitute(std::string_view text, std::string_view name, std::string_view value) {
    std::string key;
    key.reserve(name.size() + 2);
    key.push_back('{');
    key.append(name);
    key.push_back('}');
    std::string out;
    out.reserve(text.size() + value.size());
    for (;;) {
        const auto at = text.find(key);
        if (at == std::string_view::npos) {
            out.append(text);
            return out;
        }
        out.append(text.substr(0, at));
        out.append(value);
        text.remove_prefix(at + key.size());
    }
}

std::optional<load_options> parse_options(int argc, char** argv, int& exit_code) {
    load_options o;
    using setter = std::function<bool(std::string_view)>;
    const std::map<std::string_view, setter> table = {
        {"--url",
         [&](auto v) {
             return o.url_template = v, true;
         }},
        {"--connections",
         [&](auto v) {
             return parse_number(v, o.connections);
         }},
        {"--concurrency",
         [&](auto v) {
             return parse_number(v, o.concurrency);
         }},
        {"--header",
         [&](auto v) {
             return o.headers.emplace_back(v), true;
         }},
        {"--sources",
         [&](auto v) {
             return parse_number(v, o.sources);
         }},
        {"--connect-timeout",
         [&](auto v) {
             return parse_ms(v, o.connect_timeout);
         }},
        {"--settle",
         [&](auto v) {
             return parse_ms(v, o.settle);
         }},
        {"--hold",
         [&](auto v) {
             return parse_ms(v, o.hold);
         }},
        {"--publish-url",
         [&](auto v) {
             return o.publish_url = v, true;
         }},
        {"--publish-body",
         [&](auto v) {
             return o.publish_body = v, true;
         }},
        {"--publish-method",
         [&](auto v) {
             return o.publish_method = v, true;
         }},
        {"--content-type",
         [&](auto v) {
             return o.content_type = v, true;
         }},
        {"--publish-header",
         [&](auto v) {
             return o.publish_headers.emplace_back(v), true;
         }},
        {"--publishers",
         [&](auto v) {
             return parse_number(v, o.publishers);
         }},
        {"--rate",
         [&](auto v) {
             return parse_rate(v, o.rate);
         }},
        {"--burst",
         [&](auto v) {
             return parse_number(v, o.burst) && o.burst > 0;
         }},
        {"--messages",
         [&](auto v) {
             return parse_number(v, o.messages);
         }},
        {"--duration",
         [&](auto v) {
             return parse_ms(v, o.duration);
         }},
        {"--drain",
         [&](auto v) {
             return parse_ms(v, o.drain);
         }},
        {"--replay",
         [&](auto v) {
             return parse_number(v, o.replay);
         }},
        {"--server-pids",
         [&](auto v) {
             return parse_pids(v, o.server_pids);
         }},
    };

    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(usage_text.data(), stderr);
            exit_code = 0;
            return std::nullopt;
        }
        if (arg == "--quiet" || arg == "--check") {
            (arg == "--quiet" ? o.quiet : o.check) = true;
            continue;
        }
        const auto row = table.find(arg);
        if (row == table.end() || i + 1 >= argc) {
            std::fprintf(stderr, "ssehub-load: unknown option or missing value: %s\n", argv[i]);
            exit_code = 2;
            return std::nullopt;
        }
        if (!row->second(argv[++i])) {
            std::fprintf(stderr, "ssehub-load: bad value for %s: %s\n", argv[i - 1], argv[i]);
            exit_code = 2;
            return std::nullopt;
        }
    }

    // The combinations that make no sense.
    const char* problem = nullptr;
    if (o.connections > 0 && o.url_template.empty()) {
        problem = "--connections needs --url";
    } else if ((o.messages > 0 || o.duration.count() > 0 || o.replay > 0) &&
               o.publish_url.empty()) {
        problem = "publishing needs --publish-url";
    } else if (o.replay > 0 && o.connections != 1) {
        problem = "--replay needs exactly one connection";
    } else if (!o.publish_url.empty() && o.publishers == 0) {
        problem = "--publishers must be at least 1";
    }
    if (problem != nullptr) {
        std::fprintf(stderr, "ssehub-load: %s\n", problem);
        exit_code = 2;
        return std::nullopt;
    }
    return o;
}

} // namespace ssehub::bench
