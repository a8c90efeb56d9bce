// SPDX-License-Identifier: Apache-2.0
//
// ssehub-load: the project's own SSE load tool. One thread, one epoll set, non-blocking
// sockets; subscribers parse their streams with the WHATWG rules (app::event_stream_parser),
// publishers keep their HTTP connections alive. See `ssehub-load --help`.

#include "app/event_stream_parser.hpp"
#include "http_reader.hpp"
#include "options.hpp"
#include "probe.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace ssehub::bench {

namespace {

using steady = std::chrono::steady_clock;

std::int64_t realtime_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

double seconds_between(steady::time_point from, steady::time_point to) {
    return std::chrono::duration<double>(to - from).count();
}

// The publisher's timestamp in an event's data: the digits after `"ts":`.
std::optional<std::int64_t> find_timestamp(std::string_view data) {
    constexpr std::string_view key = "\"ts\":";
    const auto at = data.find(key);
    if (at == std::string_view::npos) {
        return std::nullopt;
    }
    data.remove_prefix(at + key.size());
    std::int64_t ts = 0;
    const auto [p, e] = std::from_chars(data.data(), data.data() + data.size(), ts);
    if (e != std::errc{} || p == data.data()) {
        return std::nullopt;
    }
    return ts;
}

// Percentile of sorted samples, nearest rank.
double percentile(const std::vector<std::uint32_t>& sorted, double p) {
    if (sorted.empty()) {
        return 0;
    }
    const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
    return static_cast<double>(sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1]);
}

struct connection {
    enum class role : std::uint8_t { subscriber, publisher };
    enum class phase : std::uint8_t { closed, connecting, requesting, streaming, idle };

    role kind = role::subscriber;
    phase at = phase::closed;
    int fd = -1;
    std::size_t index = 0;
    std::string out;
    std::size_t out_sent = 0;
    response_reader reader;
    std::unique_ptr<app::event_stream_parser> parser;
    std::uint64_t events = 0;   ///< bench events received since the stream opened
    steady::time_point sent_at; ///< publishers: when the request in flight was written
    std::string extra_headers;  ///< subscribers: sent on the next connect
};

class load_tool {
public:
    explicit load_tool(load_options options) : o_(std::move(options)) {}

    int run();

private:
    // The event loop.
    bool run_until(const std::function<bool()>& done, steady::time_point deadline,
                   const std::function<void()>& tick = {});
    void poll_publishers();
    void on_ready(connection& c, std::uint32_t events);

    int epoll_of(const connection& c) const {
        return c.kind == connection::role::publisher ? pub_epoll_ : epoll_;
    }

    void on_readable(connection& c);
    void flush(connection& c);
    void close_connection(connection& c, bool expected);

    // Subscribers.
    bool open_subscriber(connection& c);
    void on_stream_bytes(connection& c, std::string_view body);
    void on_event(connection& c, const app::sse_event& event);
    std::size_t count_subscribers(connection::phase p) const;

    // Publishers.
    bool open_publisher(connection& c);
    void send_publish(connection& c);
    void on_publish_response(connection& c);
    std::size_t publish(std::size_t count, double rate, steady::time_point until);

    bool open_socket(connection& c, std::uint32_t destination, std::uint16_t port,
                     std::uint32_t source);
    void print_report();

    load_options o_;
    http_url sub_url_;
    http_url pub_url_;
    int epoll_ = -1;
    int pub_epoll_ = -1; ///< the publishers' sockets; itself watched by epoll_
    std::vector<std::unique_ptr<connection>> subscribers_;
    std::vector<std::unique_ptr<connection>> publishers_;
    std::size_t next_subscriber_ = 0;
    std::vector<char> buffer_ = std::vector<char>(256 * 1024);
    bool record_latency_ = true;

    // Subscriber results.
    steady::time_point start_;
    std::size_t established_ = 0;
    std::size_t failed_ = 0;
    std::size_t dropped_ = 0;
    std::string first_failure_;
    double streaming_s_ = -1;
    std::uint64_t delivered_ = 0;
    std::uint64_t other_events_ = 0;
    std::vector<std::uint32_t> latency_us_;
    steady::time_point last_delivery_;

    // Publisher results.
    std::uint64_t published_ = 0;
    std::uint64_t accepted_ = 0;
    std::uint64_t rejected_ = 0;
    std::uint64_t publish_errors_ = 0;
    std::string first_rejection_;
    std::vector<std::uint32_t> publish_us_;
    double publish_s_ = 0;
    double delivery_s_ = 0;
    std::uint64_t expected_ = 0;
    bool published_any_ = false;

    // Replay results.
    bool replay_ran_ = false;
    std::string replay_from_;
    std::uint64_t replay_received_ = 0;
    double replay_s_ = -1;

    // Server probes.
    process_sample base_;
    process_sample streaming_sample_;
    double cpu_publish_s_ = -1;
};

bool load_tool::open_socket(connection& c, std::uint32_t destination, std::uint16_t port,
                            std::uint32_t source) {
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
        first_failure_ = first_failure_.empty() ? std::strerror(errno) : first_failure_;
        return false;
    }
    if (source != 0) {
        // Let connect() pick the port, so many sources share the ephemeral range.
        const int one = 1;
        ::setsockopt(c.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        sockaddr_in local{};
        local.sin_family = AF_INET;
        local.sin_addr.s_addr = htonl(source);
        if (::bind(c.fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
            first_failure_ = "bind: " + std::string(std::strerror(errno));
            ::close(c.fd);
            c.fd = -1;
            return false;
        }
    }
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(port);
    remote.sin_addr.s_addr = htonl(destination);
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0 &&
        errno != EINPROGRESS) {
        first_failure_ = "connect: " + std::string(std::strerror(errno));
        ::close(c.fd);
        c.fd = -1;
        return false;
    }
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
    ev.data.ptr = &c;
    ::epoll_ctl(epoll_of(c), EPOLL_CTL_ADD, c.fd, &ev);
    c.at = connection::phase::connecting;
    c.out_sent = 0;
    c.reader.reset();
    return true;
}

bool load_tool::open_subscriber(connection& c) {
    std::uint32_t source = 0;
    if (o_.sources > 0) {
        // 127.77.0.1, 127.77.0.2, ...: spread evenly over the sources.
        source = (127u << 24) | (77u << 16) | static_cast<std::uint32_t>(1 + c.index % o_.sources);
    }
    const std::string index = std::to_string(c.index);
    std::string target = substitute(sub_url_.target, "i", index);
    c.out = "GET " + target + " HTTP/1.1\r\nHost: " + sub_url_.host +
            "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n";
    for (const auto& h : o_.headers) {
        c.out += substitute(h, "i", index) + "\r\n";
    }
    c.out += c.extra_headers + "\r\n";
    c.events = 0;
    c.parser = std::make_unique<app::event_stream_parser>(
        [this, &c](const app::sse_event& event) { on_event(c, event); });
    if (!open_socket(c, sub_url_.address, sub_url_.port, source)) {
        ++failed_;
        return false;
    }
    return true;
}

bool load_tool::open_publisher(connection& c) {
    c.out.clear();
    return open_socket(c, pub_url_.address, pub_url_.port, 0);
}

void load_tool::close_connection(connection& c, bool expected) {
    if (c.fd < 0) {
        return;
    }
    if (!expected && c.kind == connection::role::subscriber) {
        if (c.at == connection::phase::streaming) {
            ++dropped_;
        } else {
            ++failed_;
        }
    }
    if (c.kind == connection::role::publisher && c.at == connection::phase::requesting) {
        ++publish_errors_;
    }
    ::close(c.fd);
    c.fd = -1;
    c.at = connection::phase::closed;
}

void load_tool::flush(connection& c) {
    while (c.out_sent < c.out.size()) {
        const ssize_t n =
            ::send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN) {
                return;
            }
            close_connection(c, false);
            return;
        }
        c.out_sent += static_cast<std::size_t>(n);
    }
}

void load_tool::on_event(connection& c, const app::sse_event& event) {
    const auto ts = find_timestamp(event.data);
    if (!ts) {
        ++other_events_;
        return;
    }
    ++c.events;
    ++delivered_;
    last_delivery_ = steady::now();
    if (record_latency_) {
        const std::int64_t us = (realtime_ns() - *ts) / 1000;
        latency_us_.push_back(
            static_cast<std::uint32_t>(std::clamp<std::int64_t>(us, 0, 1LL << 31)));
    }
}

void load_tool::on_stream_bytes(connection& c, std::string_view body) {
    c.parser->feed(body);
}

void load_tool::on_publish_response(connection& c) {
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - c.sent_at);
    publish_us_.push_back(static_cast<std::uint32_t>(us.count()));
    const int status = c.reader.status();
    if (status >= 200 && status < 300) {
        ++accepted_;
    } else {
        ++rejected_;
        if (first_rejection_.empty()) {
            first_rejection_ = "status " + std::to_string(status);
        }
    }
    // A server that closes after each answer (Pushpin's publish endpoint) gets a new
    // connection for the next message.
    const bool closes = c.reader.closes();
    c.reader.reset();
    c.at = connection::phase::idle;
    if (closes) {
        close_connection(c, true);
    }
}

void load_tool::on_readable(connection& c) {
    for (;;) {
        const ssize_t n = ::recv(c.fd, buffer_.data(), buffer_.size(), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN)) {
            // A response without length or chunks ends with the connection: it is whole.
            if (n == 0 && c.kind == connection::role::publisher &&
                c.reader.current() == response_reader::state::until_close) {
                on_publish_response(c);
            }
            close_connection(c, false);
            return;
        }
        if (n < 0) {
            return;
        }
        std::string_view bytes(buffer_.data(), static_cast<std::size_t>(n));
        while (!bytes.empty()) {
            const bool had_head = c.reader.has_head();
            const std::size_t used = c.reader.feed(bytes, [this, &c](std::string_view body) {
                if (c.kind == connection::role::subscriber) {
                    on_stream_bytes(c, body);
                }
            });
            bytes.remove_prefix(used);

            if (c.reader.current() == response_reader::state::failed) {
                if (first_failure_.empty()) {
                    first_failure_ = c.reader.error();
                }
                close_connection(c, false);
                return;
            }
            if (c.kind == connection::role::subscriber && !had_head && c.reader.has_head()) {
                if (c.reader.status() != 200) {
                    if (first_failure_.empty()) {
                        first_failure_ = "status " + std::to_string(c.reader.status());
                    }
                    close_connection(c, false);
                    return;
                }
                c.at = connection::phase::streaming;
                ++established_;
            }
            if (c.reader.current() == response_reader::state::done) {
                if (c.kind == connection::role::publisher) {
                    on_publish_response(c);
                    if (c.fd < 0) {
                        return;
                    }
                } else {
                    // A stream that ended on its own.
                    close_connection(c, false);
                    return;
                }
            }
        }
        if (static_cast<std::size_t>(n) < buffer_.size()) {
            return;
        }
    }
}

void load_tool::on_ready(connection& c, std::uint32_t events) {
    if (c.at == connection::phase::connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int error = 0;
        socklen_t len = sizeof error;
        ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &len);
        if (error != 0) {
            if (first_failure_.empty()) {
                first_failure_ = "connect: " + std::string(std::strerror(error));
            }
            close_connection(c, false);
            return;
        }
        // Connected: from now on only readability matters.
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.ptr = &c;
        ::epoll_ctl(epoll_of(c), EPOLL_CTL_MOD, c.fd, &ev);
        if (c.kind == connection::role::publisher) {
            const int one = 1;
            ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            c.at = connection::phase::idle;
            return;
        }
        c.at = connection::phase::requesting;
        flush(c);
        return;
    }
    if (c.fd >= 0 && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        on_readable(c);
    }
}

bool load_tool::run_until(const std::function<bool()>& done, steady::time_point deadline,
                          const std::function<void()>& tick) {
    std::vector<epoll_event> ready(1024);
    for (;;) {
        if (tick) {
            tick();
        }
        if (done()) {
            return true;
        }
        const auto now = steady::now();
        if (now >= deadline) {
            return false;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
        const int timeout = tick ? 1 : static_cast<int>(std::min<long long>(left.count() + 1, 50));
        const int n = ::epoll_wait(epoll_, ready.data(), static_cast<int>(ready.size()), timeout);
        for (int i = 0; i < n; ++i) {
            // The publishers' answers go first, also in the middle of a long batch of
            // stream reads: a publish's latency is then the server's, not the time this one
            // thread spends reading the fan-out that the publish itself caused.
            auto* c = static_cast<connection*>(ready[static_cast<std::size_t>(i)].data.ptr);
            if (c == nullptr || i % 32 == 31) {
                poll_publishers();
            }
            if (c != nullptr) {
                on_ready(*c, ready[static_cast<std::size_t>(i)].events);
            }
        }
    }
}

void load_tool::poll_publishers() {
    std::array<epoll_event, 64> ready{};
    const int n = ::epoll_wait(pub_epoll_, ready.data(), static_cast<int>(ready.size()), 0);
    for (int i = 0; i < n; ++i) {
        auto* c = static_cast<connection*>(ready[static_cast<std::size_t>(i)].data.ptr);
        on_ready(*c, ready[static_cast<std::size_t>(i)].events);
    }
}

std::size_t load_tool::count_subscribers(connection::phase p) const {
    return static_cast<std::size_t>(
        std::ranges::count_if(subscribers_, [p](const auto& c) { return c->at == p; }));
}

void load_tool::send_publish(connection& c) {
    ++published_;
    const std::string seq = std::to_string(published_);
    const std::string target = substitute(pub_url_.target, "seq", seq);
    const std::string body =
        substitute(substitute(o_.publish_body, "seq", seq), "ts", std::to_string(realtime_ns()));
    c.out = o_.publish_method + " " + target + " HTTP/1.1\r\nHost: " + pub_url_.host +
            "\r\nContent-Type: " + o_.content_type +
            "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    for (const auto& h : o_.publish_headers) {
        c.out += h + "\r\n";
    }
    c.out += "\r\n" + body;
    c.out_sent = 0;
    c.sent_at = steady::now();
    c.at = connection::phase::requesting;
    flush(c);
}

// Publishes `count` messages (or until `until` when count is 0) at `rate` per second
// (flat out when 0) and returns how many were sent; waits for every answer.
std::size_t load_tool::publish(std::size_t count, double rate, steady::time_point until) {
    for (auto& p : publishers_) {
        if (p->at == connection::phase::closed && !open_publisher(*p)) {
            ++publish_errors_;
        }
    }
    const auto started = steady::now();
    std::size_t sent = 0;
    const auto limit_reached = [&] {
        return (count > 0 && sent >= count) || (count == 0 && steady::now() >= until);
    };
    const auto tick = [&] {
        if (limit_reached()) {
            return;
        }
        std::size_t due = count > 0 ? count : SIZE_MAX;
        if (rate > 0) {
            // Whole bursts that are due by now.
            const double elapsed = seconds_between(started, steady::now());
            const auto ticks =
                static_cast<std::size_t>(elapsed * rate / static_cast<double>(o_.burst)) + 1;
            due = std::min(due, ticks * o_.burst);
        }
        for (auto& p : publishers_) {
            if (sent >= due) {
                break;
            }
            if (p->at == connection::phase::closed) {
                open_publisher(*p);
                continue;
            }
            if (p->at == connection::phase::idle) {
                send_publish(*p);
                ++sent;
            }
        }
    };
    const auto all_answered = [&] {
        return limit_reached() && std::ranges::none_of(publishers_, [](const auto& p) {
                   return p->at == connection::phase::requesting ||
                          p->at == connection::phase::connecting;
               });
    };
    const auto deadline =
        (count > 0 ? steady::now() + std::chrono::hours(1) : until) + std::chrono::seconds(30);
    run_until(all_answered, deadline, tick);
    publish_s_ += seconds_between(started, steady::now());
    return sent;
}

int load_tool::run() {
    // One load process holds as many sockets as its hard limit allows.
    rlimit files{};
    ::getrlimit(RLIMIT_NOFILE, &files);
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
    if (o_.connections + o_.publishers + 16 > files.rlim_cur) {
        std::fprintf(stderr, "ssehub-load: %zu connections exceed the file limit %llu\n",
                     o_.connections, static_cast<unsigned long long>(files.rlim_cur));
        return 2;
    }
    if (o_.sources == 0 && o_.connections > 1000) {
        o_.sources = (o_.connections + 999) / 1000;
    }

    std::string error;
    if (!o_.url_template.empty()) {
        auto url = parse_url(o_.url_template, error);
        if (!url) {
            std::fprintf(stderr, "ssehub-load: --url: %s\n", error.c_str());
            return 2;
        }
        sub_url_ = *url;
    }
    if (!o_.publish_url.empty()) {
        auto url = parse_url(o_.publish_url, error);
        if (!url) {
            std::fprintf(stderr, "ssehub-load: --publish-url: %s\n", error.c_str());
            return 2;
        }
        pub_url_ = *url;
    }
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    pub_epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event watch_publishers{};
    watch_publishers.events = EPOLLIN;
    watch_publishers.data.ptr = nullptr;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, pub_epoll_, &watch_publishers);

    for (std::size_t i = 0; i < o_.connections; ++i) {
        auto c = std::make_unique<connection>();
        c->index = i;
        subscribers_.push_back(std::move(c));
    }
    for (std::size_t i = 0; i < (o_.publish_url.empty() ? 0 : o_.publishers); ++i) {
        auto c = std::make_unique<connection>();
        c->kind = connection::role::publisher;
        c->index = i;
        publishers_.push_back(std::move(c));
    }

    // 1. Open the streams, at most `concurrency` connecting at once.
    base_ = sample_processes(o_.server_pids);
    start_ = steady::now();
    const auto in_flight = [this] {
        return static_cast<std::size_t>(std::ranges::count_if(subscribers_, [](const auto& c) {
            return c->at == connection::phase::connecting || c->at == connection::phase::requesting;
        }));
    };
    std::size_t connecting = 0;
    const auto open_more = [&] {
        if (next_subscriber_ >= subscribers_.size()) {
            return;
        }
        if (o_.concurrency > 0) {
            connecting = in_flight();
        }
        while (next_subscriber_ < subscribers_.size() &&
               (o_.concurrency == 0 || connecting < o_.concurrency)) {
            open_subscriber(*subscribers_[next_subscriber_++]);
            ++connecting;
        }
    };
    const bool all_streaming = run_until(
        [&] {
            return next_subscriber_ == subscribers_.size() &&
                   established_ + failed_ >= subscribers_.size();
        },
        start_ + o_.connect_timeout, open_more);
    if (o_.connections > 0) {
        streaming_s_ = seconds_between(start_, steady::now());
        if (!all_streaming) {
            failed_ += o_.connections - established_ - failed_;
        }
    }

    // 2. Let the server settle, then take its memory with every stream open.
    run_until([] { return false; }, steady::now() + o_.settle);
    streaming_sample_ = sample_processes(o_.server_pids);
    if (o_.hold.count() > 0) {
        run_until([] { return false; }, steady::now() + o_.hold);
    }

    // 3. Publish, then wait for the deliveries.
    const std::size_t live = count_subscribers(connection::phase::streaming);
    if (!publishers_.empty() && o_.replay == 0 && (o_.messages > 0 || o_.duration.count() > 0)) {
        published_any_ = true;
        const auto cpu_before = sample_processes(o_.server_pids).cpu_s;
        const auto started = steady::now();
        publish(o_.messages, o_.rate, started + o_.duration);
        expected_ = accepted_ * live;
        run_until([&] { return delivered_ >= expected_; }, steady::now() + o_.drain);
        delivery_s_ = seconds_between(started, std::max(last_delivery_, started));
        cpu_publish_s_ = sample_processes(o_.server_pids).cpu_s - cpu_before;
    }

    // 4. Replay: one event to learn an id, away, M events, back with Last-Event-ID.
    if (o_.replay > 0 && live == 1) {
        replay_ran_ = true;
        record_latency_ = false;
        connection& sub = *subscribers_[0];
        publish(1, 0, {});
        run_until([&] { return sub.events >= 1; }, steady::now() + o_.drain);
        replay_from_ = sub.parser->last_event_id();
        close_connection(sub, true);
        publish(o_.replay, 0, {});
        expected_ = o_.replay;
        sub.extra_headers = "Last-Event-ID: " + replay_from_ + "\r\n";
        const auto started = steady::now();
        --established_; // the same stream, opened again
        if (open_subscriber(sub)) {
            run_until([&] { return sub.events >= o_.replay || sub.fd < 0; }, started + o_.drain);
            replay_received_ = sub.events;
            replay_s_ = seconds_between(started, steady::now());
        }
    }

    print_report();
    const bool complete = failed_ == 0 && dropped_ == 0 && rejected_ == 0 && publish_errors_ == 0 &&
                          delivered_ >= expected_ &&
                          (!replay_ran_ || replay_received_ >= o_.replay) &&
                          (o_.replay == 0 || replay_ran_);
    for (auto& c : subscribers_) {
        close_connection(*c, true);
    }
    for (auto& c : publishers_) {
        close_connection(*c, true);
    }
    ::close(pub_epoll_);
    ::close(epoll_);
    return o_.check && !complete ? 1 : 0;
}

void load_tool::print_report() {
    std::ranges::sort(latency_us_);
    std::ranges::sort(publish_us_);
    const double p50 = percentile(latency_us_, 0.50) / 1000;
    const double p99 = percentile(latency_us_, 0.99) / 1000;
    const double max = latency_us_.empty() ? 0 : latency_us_.back() / 1000.0;
    const std::uint64_t lost = expected_ > delivered_ ? expected_ - delivered_ : 0;
    const double per_s = delivery_s_ > 0 ? static_cast<double>(delivered_) / delivery_s_ : 0;
    const double accepted_per_s = publish_s_ > 0 ? static_cast<double>(accepted_) / publish_s_ : 0;
    const auto conns = static_cast<double>(std::max<std::size_t>(established_, 1));
    const double rss_per_conn =
        (static_cast<double>(streaming_sample_.rss_kb) - static_cast<double>(base_.rss_kb)) * 1024 /
        conns;
    const double pss_per_conn =
        (static_cast<double>(streaming_sample_.pss_kb) - static_cast<double>(base_.pss_kb)) * 1024 /
        conns;
    const double cpu_per_100k = delivered_ > 0 && cpu_publish_s_ >= 0
                                    ? cpu_publish_s_ * 100'000 / static_cast<double>(delivered_)
                                    : -1;

    std::string json = "{";
    const auto add = [&json](std::string_view key, const std::string& value) {
        if (json.size() > 1) {
            json += ',';
        }
        json += '"';
        json += key;
        json += "\":";
        json += value;
    };
    const auto num = [](double v) {
        char text[64];
        std::snprintf(text, sizeof text, "%.6g", v);
        return std::string(text);
    };
    const auto str = [](std::string_view v) {
        std::string out = "\"";
        for (const char c : v) {
            if (c == '"' || c == '\\') {
                out += '\\';
            }
            out += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
        }
        return out + "\"";
    };
    add("connections", std::to_string(o_.connections));
    add("established", std::to_string(established_));
    add("failed", std::to_string(failed_));
    add("dropped", std::to_string(dropped_));
    add("first_failure", str(first_failure_));
    add("streaming_s", num(streaming_s_));
    add("published", std::to_string(published_));
    add("accepted", std::to_string(accepted_));
    add("rejected", std::to_string(rejected_));
    add("publish_errors", std::to_string(publish_errors_));
    add("first_rejection", str(first_rejection_));
    add("publish_s", num(publish_s_));
    add("accepted_per_s", num(accepted_per_s));
    add("publish_p50_ms", num(percentile(publish_us_, 0.50) / 1000));
    add("publish_p99_ms", num(percentile(publish_us_, 0.99) / 1000));
    add("delivered", std::to_string(delivered_));
    add("expected", std::to_string(expected_));
    add("lost", std::to_string(lost));
    add("other_events", std::to_string(other_events_));
    add("delivery_s", num(delivery_s_));
    add("deliveries_per_s", num(per_s));
    add("latency_p50_ms", num(p50));
    add("latency_p99_ms", num(p99));
    add("latency_max_ms", num(max));
    add("server_rss_base_kb", std::to_string(base_.rss_kb));
    add("server_rss_kb", std::to_string(streaming_sample_.rss_kb));
    add("server_rss_per_conn_b", num(rss_per_conn));
    add("server_pss_per_conn_b", num(pss_per_conn));
    add("server_cpu_s", num(cpu_publish_s_));
    add("server_cpu_s_per_100k", num(cpu_per_100k));
    add("replay_ran", replay_ran_ ? "true" : "false");
    add("replay_from", str(replay_from_));
    add("replay_received", std::to_string(replay_received_));
    add("replay_s", num(replay_s_));
    json += "}";
    std::printf("%s\n", json.c_str());
    std::fflush(stdout);

    if (o_.quiet) {
        return;
    }
    std::fprintf(stderr,
                 "streams     %zu of %zu streaming in %.3f s, %zu failed, %zu dropped%s%s\n",
                 established_, o_.connections, streaming_s_, failed_, dropped_,
                 first_failure_.empty() ? "" : "; first failure: ", first_failure_.c_str());
    if (!o_.server_pids.empty()) {
        std::fprintf(stderr, "server      RSS %llu kB with the streams, %.0f B per stream\n",
                     static_cast<unsigned long long>(streaming_sample_.rss_kb), rss_per_conn);
    }
    if (published_any_) {
        std::fprintf(stderr,
                     "publish     %llu sent, %llu accepted (%.0f/s), %llu rejected, %llu "
                     "unanswered\n",
                     static_cast<unsigned long long>(published_),
                     static_cast<unsigned long long>(accepted_), accepted_per_s,
                     static_cast<unsigned long long>(rejected_),
                     static_cast<unsigned long long>(publish_errors_));
        std::fprintf(stderr,
                     "delivery    %llu of %llu (%llu lost), %.0f/s, latency p50 %.2f ms "
                     "p99 %.2f ms max %.2f ms\n",
                     static_cast<unsigned long long>(delivered_),
                     static_cast<unsigned long long>(expected_),
                     static_cast<unsigned long long>(lost), per_s, p50, p99, max);
        if (cpu_per_100k >= 0 && !o_.server_pids.empty()) {
            std::fprintf(stderr, "server cpu  %.2f s, %.3f s per 100k deliveries\n", cpu_publish_s_,
                         cpu_per_100k);
        }
    }
    if (replay_ran_) {
        std::fprintf(stderr, "replay      %llu of %zu events in %.3f s from id %s\n",
                     static_cast<unsigned long long>(replay_received_), o_.replay, replay_s_,
                     replay_from_.c_str());
    }
}

} // namespace

} // namespace ssehub::bench

int main(int argc, char** argv) {
    int exit_code = 0;
    auto options = ssehub::bench::parse_options(argc, argv, exit_code);
    if (!options) {
        return exit_code;
    }
    ssehub::bench::load_tool tool(std::move(*options));
    return tool.run();
}
