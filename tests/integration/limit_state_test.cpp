// SPDX-License-Identifier: Apache-2.0
//
// The state behind the limits stays bounded: many publishers (one JWT subject each) leave no
// publish-rate bucket behind once idle, and many client addresses leave no per-address count
// once their connections close (checked through the gauges of /metrics). And capacity: a
// thousand subscriptions at once each get their answer (F20 C).

#include "security_support.hpp"

#include <arpa/inet.h>
#include <map>
#include <netinet/in.h>
#include <set>
#include <sys/socket.h>
#include <unistd.h>

namespace ssehub::test {
namespace {

namespace json = boost::json;

const std::string secret = "limit-state-publisher-secret";

std::string token_for(const std::string& sub, std::string_view rights = "push") {
    return sign_jwt(json::object{{"sub", sub},
                                 {"rights", json::array{json::string(rights)}},
                                 {"exp", unix_now() + 600}},
                    "HS256", secret);
}

class LimitStateTest : public hub_test {
protected:
    long long gauge(std::string_view name) {
        auto r =
            http_request(hub(), "GET", "/metrics", {}, bearer(token_for("admin", "introspection")));
        EXPECT_EQ(r.status, 200) << r.body;
        return metric_value(r.body, name);
    }
};

TEST_F(LimitStateTest, ManyPublishersLeaveNoRateBucketOnceIdle) {
    start({"--auth-publishers-jwt-alg", "HS256", "--auth-publishers-jwt-secret", secret,
           "--limits-publish-rate", "5"});
    constexpr int publishers = 300;
    for (int i = 0; i < publishers; ++i) {
        auto r = http_request(hub(), "POST", "/api/v1/sessions/nobody/messages", R"({"message":1})",
                              bearer(token_for("app-" + std::to_string(i))));
        ASSERT_EQ(r.status, 404) << r.body; // authorised, counted, and nobody is there
    }
    const auto while_busy = gauge("ssehub_publish_rate_buckets");
    EXPECT_GE(while_busy, 1);
    EXPECT_LE(while_busy, publishers);

    // Past a full refill every bucket is idle; the next request sweeps them all but its own.
    std::this_thread::sleep_for(1100ms);
    auto r = http_request(hub(), "POST", "/api/v1/sessions/nobody/messages", R"({"message":1})",
                          bearer(token_for("last")));
    EXPECT_EQ(r.status, 404) << r.body;
    EXPECT_EQ(gauge("ssehub_publish_rate_buckets"), 1);
}

// One request from `source` (a 127/8 address), answered and closed.
int healthz_from(const server_process& hub, const std::string& source) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return 0;
    }
    sockaddr_in local{};
    local.sin_family = AF_INET;
    ::inet_pton(AF_INET, source.c_str(), &local.sin_addr);
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(hub.port());
    ::inet_pton(AF_INET, hub.host().c_str(), &remote.sin_addr);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int status = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0 &&
        ::connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote) == 0) {
        const std::string req = "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
        if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
            char buf[512];
            const auto n = ::recv(fd, buf, sizeof buf, 0);
            if (n >= 12) {
                status = std::atoi(std::string(buf, 12).c_str() + 9);
            }
        }
    }
    ::close(fd);
    return status;
}

TEST_F(LimitStateTest, ManyAddressesLeaveNoCountOnceClosed) {
    start({"--auth-publishers-jwt-alg", "HS256", "--auth-publishers-jwt-secret", secret,
           "--limits-connections-per-address", "4"});
    constexpr int addresses = 250;
    for (int i = 0; i < addresses; ++i) {
        const auto source =
            "127.0." + std::to_string(1 + i / 200) + "." + std::to_string(2 + i % 200);
        ASSERT_EQ(healthz_from(hub(), source), 200) << source;
    }

    // Each closed connection gives its address back; only the metrics call's own remains.
    long long counted = -1;
    const auto deadline = after(10s);
    while (clock::now() < deadline) {
        counted = gauge("ssehub_connection_addresses");
        if (counted == 1) {
            break;
        }
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(counted, 1);
}

// F20 C: a thousand subscriptions at once from one address: each gets its status line, 200
// at the default limits; past limits.connections_per_address, 429 with its JSON error and a
// Retry-After. None is left waiting.
class ConcurrentSubscriptionsTest : public hub_test, public ::testing::WithParamInterface<int> {};

TEST_P(ConcurrentSubscriptionsTest, EachGetsAStatusLine) {
    const int per_address = GetParam();
    std::vector<std::string> args{"--session-grace", "0s"};
    if (per_address > 0) {
        args.insert(args.end(), {"--limits-connections-per-address", std::to_string(per_address)});
    }
    start(args);

    constexpr int clients = 1000;
    std::vector<std::unique_ptr<sse_stream>> streams;
    streams.reserve(clients);
    for (int i = 0; i < clients; ++i) {
        streams.push_back(
            std::make_unique<sse_stream>(hub(), "/events?session=c" + std::to_string(i)));
    }
    int served = 0;
    int refused = 0;
    for (auto& s : streams) {
        ASSERT_TRUE(s->read_head(after(20s))) << "a subscription was left waiting";
        if (s->head().status == 200) {
            ++served;
            continue;
        }
        ASSERT_TRUE(s->read_complete_body(after(10s)));
        EXPECT_TRUE(is_json_error(s->head(), s->body(), 429, "connection")) << s->body();
        EXPECT_TRUE(s->head().header("Retry-After").has_value());
        ++refused;
    }
    if (per_address == 0) {
        EXPECT_EQ(served, clients);
    } else {
        // A refused connection gives its count back once closed, so a late one may be served.
        EXPECT_GE(served, per_address);
        EXPECT_GT(refused, clients / 2);
        EXPECT_EQ(served + refused, clients);
    }
}

// F22, input 2: on SIGTERM every stream ends with its own `retry:` hint, spread over the
// documented window [stream.retry, 1.5 x stream.retry], so that the clients of a stopping hub
// do not all come back at once: no 100 ms slice of the window holds over 20 % of them.
TEST_F(LimitStateTest, ShutdownSpreadsTheRetryHintsOverTheirWindow) {
    start({"--session-grace", "0s", "--stream-retry", "2000ms"});
    constexpr int clients = 200;
    std::vector<std::unique_ptr<sse_stream>> streams;
    for (int i = 0; i < clients; ++i) {
        streams.push_back(subscribe("/events?session=r" + std::to_string(i)));
    }
    const auto status = hub().stop();
    EXPECT_TRUE(status.clean()) << status.describe();

    std::map<long long, int> per_slice;
    std::set<long long> values;
    for (auto& s : streams) {
        ASSERT_TRUE(s->wait_closed(after(10s)));
        const auto& body = s->body();
        const auto at = body.rfind("retry:");
        ASSERT_NE(at, std::string::npos) << body;
        ASSERT_TRUE(body.ends_with("\n\n")) << body;
        const auto ms = std::stoll(body.substr(at + 6));
        EXPECT_GE(ms, 2000);
        EXPECT_LE(ms, 3000);
        values.insert(ms);
        ++per_slice[ms / 100];
    }
    EXPECT_GE(values.size(), 20u) << "the hints are not spread";
    for (const auto& [slice, n] : per_slice) {
        EXPECT_LE(n, clients / 5) << "slice " << slice * 100 << " ms";
    }
}

INSTANTIATE_TEST_SUITE_P(Limits, ConcurrentSubscriptionsTest, ::testing::Values(0, 100),
                         [](const auto& info) {
                             return info.param == 0 ? std::string("DefaultLimits")
                                                    : std::string("PerAddressLimit");
                         });

} // namespace
} // namespace ssehub::test
