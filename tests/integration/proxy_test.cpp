// SPDX-License-Identifier: Apache-2.0
//
// Field cases F11 and F12: the hub behind a real reverse proxy, Debian's nginx, which cuts
// an upstream connection that stays silent longer than its `proxy_read_timeout`. The proxy
// runs as a child process on loopback with its own configuration and temporary folder.

#include "harness.hpp"

#include <boost/asio/connect.hpp>
#include <boost/json.hpp>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <spawn.h>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <vector>

extern char** environ;

namespace ssehub::test {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using asio::ip::tcp;

constexpr const char* nginx_binary = "/usr/sbin/nginx";

/// A loopback port nobody listens on at the time of the call.
std::uint16_t free_port() {
    asio::io_context ioc;
    tcp::acceptor probe(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return probe.local_endpoint().port();
}

bool accepts(std::uint16_t port) {
    asio::io_context ioc;
    tcp::socket s(ioc);
    boost::system::error_code ec;
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    return !ec;
}

/// nginx as a reverse proxy for SSE, as deployments configure it: HTTP/1.1 upstream,
/// no buffering, and an idle timeout on the upstream connection.
class nginx_proxy {
public:
    nginx_proxy(std::uint16_t upstream, const std::string& read_timeout) {
        char tmpl[] = "/tmp/ssehub-nginx-XXXXXX";
        if (::mkdtemp(tmpl) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        dir_ = tmpl;
        port_ = free_port();
        const std::string d = dir_.string();
        std::ofstream(dir_ / "nginx.conf")
            << "daemon off;\nmaster_process off;\nworker_processes 1;\n"
            << "pid " << d << "/nginx.pid;\nerror_log " << d << "/error.log info;\n"
            << "events { worker_connections 2048; }\n"
            << "http {\n  access_log off;\n"
            << "  client_body_temp_path " << d << "/body;\n"
            << "  proxy_temp_path " << d << "/proxy;\n"
            << "  fastcgi_temp_path " << d << "/fastcgi;\n"
            << "  uwsgi_temp_path " << d << "/uwsgi;\n"
            << "  scgi_temp_path " << d << "/scgi;\n"
            << "  server {\n    listen 127.0.0.1:" << port_ << ";\n"
            << "    location / {\n"
            << "      proxy_pass http://127.0.0.1:" << upstream << ";\n"
            << "      proxy_http_version 1.1;\n"
            << "      proxy_set_header Connection \"\";\n"
            << "      proxy_buffering off;\n"
            << "      proxy_read_timeout " << read_timeout << ";\n"
            << "    }\n  }\n}\n";

        const std::string conf = d + "/nginx.conf";
        const std::string error_log = d + "/error.log";
        std::vector<std::string> args{nginx_binary, "-p", d, "-c", conf, "-e", error_log};
        std::vector<char*> argv;
        for (auto& a : args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        if (::posix_spawn(&pid_, nginx_binary, nullptr, nullptr, argv.data(), environ) != 0) {
            pid_ = -1;
            throw std::runtime_error(std::string("cannot start ") + nginx_binary +
                                     " (tools/dev installs Debian's nginx)");
        }
        if (!eventually([&] { return accepts(port_); }, after(10s))) {
            throw std::runtime_error("nginx did not listen: " + log());
        }
    }

    ~nginx_proxy() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            int status = 0;
            ::waitpid(pid_, &status, 0);
        }
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }

    nginx_proxy(const nginx_proxy&) = delete;
    nginx_proxy& operator=(const nginx_proxy&) = delete;

    std::uint16_t port() const { return port_; }

    std::string log() const {
        try {
            return read_file(dir_ / "error.log");
        } catch (const std::exception&) {
            return {};
        }
    }

private:
    std::filesystem::path dir_;
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
};

/// A stream opened through the proxy, its head read and its `retry:` hint seen.
std::unique_ptr<sse_stream> through(const nginx_proxy& proxy, const std::string& target) {
    auto s = std::make_unique<sse_stream>("127.0.0.1", proxy.port(), target);
    EXPECT_TRUE(s->read_head(after(5s))) << target << ": no head through the proxy";
    EXPECT_EQ(s->head().status, 200) << s->head().raw;
    auto first = s->next_frame(after(5s));
    EXPECT_TRUE(first && first->retry) << target << ": the stream did not start with retry:";
    return s;
}

class ProxyTest : public hub_test {};

// F11: a stream without traffic lives through a proxy that cuts silent upstreams, because
// the keep-alive comment comes more often than the proxy's timeout; the keep-alives are
// bare comments that dispatch nothing, and an event still flows afterwards.
TEST_F(ProxyTest, KeepAlivesHoldAQuietStreamOpenThroughTheProxy) {
    start({"--stream-keepalive", "1s", "--session-grace", "0s"});
    nginx_proxy proxy(hub().port(), "3s");
    auto s = through(proxy, "/events?session=s1&channel=quiet");

    // Three proxy timeouts long.
    const auto until = after(9s);
    int keepalives = 0;
    while (clock::now() < until) {
        auto f = s->next_frame(until);
        if (!f) {
            break;
        }
        if (f->is_cursor()) {
            continue; // where a fresh stream starts: sets the last id, dispatches nothing
        }
        ASSERT_TRUE(f->comment_only) << "only keep-alives on a quiet stream: " << f->raw;
        EXPECT_EQ(f->raw, ":\n\n");
        ++keepalives;
    }
    ASSERT_FALSE(s->ended()) << "the proxy cut the stream:\n" << proxy.log();
    EXPECT_GE(keepalives, 6) << "one keep-alive a second for nine seconds";
    EXPECT_EQ(records(hub(), "s1"), 0u);

    auto r = http_request(hub(), "POST", "/api/v1/channels/quiet/messages",
                          R"({"message":{"at":"9s"}})");
    ASSERT_EQ(r.status, 200) << r.body;
    auto ev = s->next_event(after(5s));
    ASSERT_TRUE(ev) << "the event did not come through the proxy";
    EXPECT_TRUE(is_event(*ev, "message", R"({"at":"9s"})")) << ev->raw;
}

// F12: with keep-alives rarer than the proxy's timeout, the proxy closes all 50 upstream
// connections; the hub notices each at once: one record per session, the sessions gone,
// its files back to the baseline, and it serves 500 new subscriptions and the control API
// right after.
TEST_F(ProxyTest, AProxyTimeoutEndsTheSessionsAndFreesEverything) {
    start({"--stream-keepalive", "60s", "--session-grace", "0s"});
    nginx_proxy proxy(hub().port(), "2s");
    constexpr int count = 50;

    json::array doc;
    for (int i = 0; i < count; ++i) {
        doc.push_back(declared("p" + std::to_string(i)));
    }
    ASSERT_EQ(actions(doc).status, 200);
    const auto baseline = open_files(hub().pid());

    std::vector<std::unique_ptr<sse_stream>> streams;
    for (int i = 0; i < count; ++i) {
        streams.push_back(through(proxy, "/events?session=p" + std::to_string(i)));
    }
    ASSERT_EQ(metric(hub(), "streams"), count);

    // The proxy gives up on each silent upstream after 2 s and closes both sides.
    for (auto& s : streams) {
        ASSERT_TRUE(s->wait_closed(after(10s))) << "the proxy did not cut the stream";
    }
    ASSERT_TRUE(
        eventually([&] { return metric(hub(), "sessions_ended_total") == count; }, after(5s)))
        << "sessions ended: " << metric(hub(), "sessions_ended_total");
    for (int i = 0; i < count; ++i) {
        const auto id = "p" + std::to_string(i);
        EXPECT_TRUE(eventually([&] { return records(hub(), id) == 1; }, after(5s)))
            << id << ": " << records(hub(), id) << " records";
    }
    EXPECT_EQ(metric(hub(), "sessions"), 0);
    EXPECT_EQ(metric(hub(), "streams"), 0);
    EXPECT_TRUE(eventually([&] { return open_files(hub().pid()) <= baseline; }, after(5s)))
        << "files: " << open_files(hub().pid()) << " against " << baseline << " before";

    // The hub is whole: 500 new subscriptions straight to it each start at once, and the
    // control API answers in between.
    std::vector<std::unique_ptr<sse_stream>> fresh;
    for (int i = 0; i < 500; ++i) {
        fresh.push_back(
            std::make_unique<sse_stream>(hub(), "/events?session=n" + std::to_string(i)));
        if (i % 100 == 99) {
            EXPECT_EQ(http_request(hub(), "GET", "/api/v1/sessions").status, 200);
        }
    }
    for (auto& s : fresh) {
        ASSERT_TRUE(s->read_head(after(10s)));
        ASSERT_EQ(s->head().status, 200);
        auto first = s->next_frame(after(10s));
        ASSERT_TRUE(first && first->retry);
        EXPECT_EQ(*first->retry, "2000");
    }
    EXPECT_EQ(metric(hub(), "streams"), 500);
}

} // namespace
} // namespace ssehub::test
