// SPDX-License-Identifier: Apache-2.0
//
// ssehub-floor: the physical floor of SSE fan-out, a yardstick and not a product. Each
// thread owns an epoll set and a listening socket (SO_REUSEPORT, so the kernel spreads
// connections). A subscriber (any GET) costs the server one socket and one int in its
// channel's list; a publish (POST /pub/CHANNEL, the body is the data) becomes one
// preformatted frame, written to each subscriber with one write(). Nothing is queued: a
// write that does not take the whole frame counts as a loss and closes the subscriber.
//
//   ssehub-floor [--listen 127.0.0.1:PORT] [--threads N]
//
// Prints `listening address=HOST:PORT` on stderr once it accepts connections.

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <string_view>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>
#include <vector>

namespace ssehub::bench {

namespace {

constexpr std::string_view stream_head = "HTTP/1.1 200 OK\r\n"
                                         "Content-Type: text/event-stream\r\n"
                                         "Cache-Control: no-cache\r\n"
                                         "Connection: keep-alive\r\n\r\n"
                                         "retry:2000\n\n";
constexpr std::string_view publish_ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
constexpr std::string_view not_found = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";

std::atomic<bool> stopping{false};
std::atomic<std::uint64_t> sequence{0};
std::atomic<std::uint64_t> short_writes{0};

// A frame handed to every thread; the last one to write it frees it.
struct frame {
    std::string channel;
    std::string bytes;
};

// A connection that has not become a subscriber: its request bytes so far.
struct pending {
    std::string in;
};

class worker {
public:
    worker(int listener, std::vector<worker*>& all) : listener_(listener), all_(all) {}

    void run();

    /// Called from any thread: queue `f` for this worker's subscribers.
    void post(std::shared_ptr<const frame> f) {
        {
            const std::lock_guard lock(mutex_);
            inbox_.push_back(std::move(f));
        }
        const std::uint64_t one = 1;
        [[maybe_unused]] const auto n = ::write(wake_, &one, sizeof one);
    }

    int wake_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

private:
    void accept_all();
    void on_request_bytes(int fd);
    void handle(int fd, pending& p);
    void fan_out(const frame& f);
    void drop_subscriber(int fd);

    int listener_;
    std::vector<worker*>& all_;
    int epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    std::unordered_map<std::string, std::vector<int>> channels_;
    std::unordered_map<int, pending> pending_;
    std::mutex mutex_;
    std::vector<std::shared_ptr<const frame>> inbox_;
};

void worker::accept_all() {
    for (;;) {
        const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            return;
        }
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.fd = fd;
        ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
        pending_.emplace(fd, pending{});
    }
}

void worker::drop_subscriber(int fd) {
    // A subscriber is found by searching: the floor keeps nothing per subscriber but the
    // socket in its channel's list, and closes are rare next to writes.
    if (pending_.erase(fd) == 0) {
        for (auto& [name, list] : channels_) {
            const auto at = std::ranges::find(list, fd);
            if (at != list.end()) {
                *at = list.back();
                list.pop_back();
                break;
            }
        }
    }
    ::close(fd);
}

void worker::fan_out(const frame& f) {
    const auto it = channels_.find(f.channel);
    if (it == channels_.end()) {
        return;
    }
    std::vector<int> lost;
    for (const int fd : it->second) {
        const ssize_t n = ::write(fd, f.bytes.data(), f.bytes.size());
        if (n != static_cast<ssize_t>(f.bytes.size())) {
            lost.push_back(fd);
        }
    }
    for (const int fd : lost) {
        short_writes.fetch_add(1, std::memory_order_relaxed);
        drop_subscriber(fd);
    }
}

void worker::handle(int fd, pending& p) {
    const auto end = p.in.find("\r\n\r\n");
    if (end == std::string::npos) {
        return;
    }
    const std::string_view head(p.in.data(), end);
    const auto sp1 = head.find(' ');
    const auto sp2 = head.find(' ', sp1 + 1);
    const std::string_view method = head.substr(0, sp1);
    const std::string_view target = head.substr(sp1 + 1, sp2 - sp1 - 1);

    // GET anything: a subscriber of the channel named by the last path segment.
    if (method == "GET") {
        std::string_view path = target.substr(0, target.find('?'));
        std::string channel(path.substr(path.rfind('/') + 1));
        [[maybe_unused]] const auto n = ::write(fd, stream_head.data(), stream_head.size());
        channels_[channel].push_back(fd);
        pending_.erase(fd);
        return;
    }

    // POST /pub/CHANNEL with a Content-Length body; the connection stays open.
    std::size_t length = 0;
    const auto cl = head.find("Content-Length:");
    const auto cl_lower = head.find("content-length:");
    const auto at = cl != std::string_view::npos ? cl : cl_lower;
    if (at != std::string_view::npos) {
        auto value = head.substr(at + 15);
        while (!value.empty() && value.front() == ' ') {
            value.remove_prefix(1);
        }
        std::from_chars(value.data(), value.data() + value.size(), length);
    }
    if (p.in.size() < end + 4 + length) {
        return;
    }
    if (method != "POST" || !target.starts_with("/pub/")) {
        [[maybe_unused]] const auto n = ::write(fd, not_found.data(), not_found.size());
        p.in.erase(0, end + 4 + length);
        return;
    }
    auto f = std::make_shared<frame>();
    f->channel = std::string(target.substr(5, target.find('?') - 5));
    const std::uint64_t id = sequence.fetch_add(1, std::memory_order_relaxed) + 1;
    f->bytes = "id:" + std::to_string(id) + "\ndata:" + p.in.substr(end + 4, length) + "\n\n";
    p.in.erase(0, end + 4 + length);

    // Answer first, as a hub does, then write the frame on every thread.
    [[maybe_unused]] const auto n = ::write(fd, publish_ok.data(), publish_ok.size());
    for (worker* w : all_) {
        if (w != this) {
            w->post(f);
        }
    }
    fan_out(*f);
    if (!p.in.empty()) {
        handle(fd, p);
    }
}

void worker::on_request_bytes(int fd) {
    char buffer[16 * 1024];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    const auto it = pending_.find(fd);
    if (n <= 0) {
        if (n < 0 && errno == EAGAIN) {
            return;
        }
        drop_subscriber(fd);
        return;
    }
    if (it == pending_.end()) {
        // A subscriber sent something after its request: ignore it.
        return;
    }
    it->second.in.append(buffer, static_cast<std::size_t>(n));
    handle(fd, it->second);
}

void worker::run() {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listener_;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, listener_, &ev);
    ev.data.fd = wake_;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &ev);

    std::vector<epoll_event> ready(512);
    std::vector<std::shared_ptr<const frame>> frames;
    while (!stopping.load(std::memory_order_relaxed)) {
        const int n = ::epoll_wait(epoll_, ready.data(), static_cast<int>(ready.size()), 200);
        for (int i = 0; i < n; ++i) {
            const int fd = ready[static_cast<std::size_t>(i)].data.fd;
            if (fd == listener_) {
                accept_all();
            } else if (fd == wake_) {
                std::uint64_t count = 0;
                [[maybe_unused]] const auto r = ::read(wake_, &count, sizeof count);
                {
                    const std::lock_guard lock(mutex_);
                    frames.swap(inbox_);
                }
                for (const auto& f : frames) {
                    fan_out(*f);
                }
                frames.clear();
            } else {
                on_request_bytes(fd);
            }
        }
    }
}

int listen_on(std::uint32_t address, std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_port = htons(port);
    local.sin_addr.s_addr = htonl(address);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
        ::listen(fd, 65535) != 0) {
        std::fprintf(stderr, "ssehub-floor: cannot listen: %s\n", std::strerror(errno));
        std::exit(1);
    }
    return fd;
}

} // namespace

} // namespace ssehub::bench

int main(int argc, char** argv) {
    using namespace ssehub::bench;
    std::string listen = "127.0.0.1:8090";
    unsigned threads = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string_view arg = argv[i];
        if (arg == "--listen") {
            listen = argv[i + 1];
        } else if (arg == "--threads") {
            threads = static_cast<unsigned>(std::max(1, std::atoi(argv[i + 1])));
        } else {
            std::fprintf(stderr, "usage: ssehub-floor [--listen HOST:PORT] [--threads N]\n");
            return 2;
        }
    }
    const auto colon = listen.rfind(':');
    in_addr addr{};
    std::uint16_t port = 0;
    const std::string host = listen.substr(0, colon);
    std::from_chars(listen.data() + colon + 1, listen.data() + listen.size(), port);
    if (colon == std::string::npos || inet_pton(AF_INET, host.c_str(), &addr) != 1) {
        std::fprintf(stderr, "ssehub-floor: bad --listen %s\n", listen.c_str());
        return 2;
    }

    rlimit files{};
    ::getrlimit(RLIMIT_NOFILE, &files);
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
    std::signal(SIGPIPE, SIG_IGN);

    // The first socket fixes the port (it may be 0); the others share it.
    std::vector<int> listeners{listen_on(ntohl(addr.s_addr), port)};
    sockaddr_in bound{};
    socklen_t len = sizeof bound;
    ::getsockname(listeners[0], reinterpret_cast<sockaddr*>(&bound), &len);
    port = ntohs(bound.sin_port);
    for (unsigned i = 1; i < threads; ++i) {
        listeners.push_back(listen_on(ntohl(addr.s_addr), port));
    }

    std::vector<worker*> all;
    std::vector<std::unique_ptr<worker>> workers;
    for (const int fd : listeners) {
        workers.push_back(std::make_unique<worker>(fd, all));
        all.push_back(workers.back().get());
    }

    // SIGTERM and SIGINT end the run; the threads notice within 200 ms.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    std::vector<std::thread> running;
    for (auto& w : workers) {
        running.emplace_back([&w] { w->run(); });
    }
    std::fprintf(stderr, "listening address=%s:%u threads=%u\n", host.c_str(), port, threads);
    int signal = 0;
    sigwait(&signals, &signal);
    stopping = true;
    for (auto& t : running) {
        t.join();
    }
    std::fprintf(stderr, "stopped short_writes=%llu\n",
                 static_cast<unsigned long long>(short_writes.load()));
    return 0;
}
