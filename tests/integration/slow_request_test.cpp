// SPDX-License-Identifier: Apache-2.0
//
// Slow requests (slowloris): a head or a body that trickles in gets 408 with a JSON error
// once its time is up, is counted and closed; an idle keep-alive connection is closed without
// a word; a stream, once open, has no such limit (F13).

#include "security_support.hpp"

namespace ssehub::test {
namespace {

// The first status code of a response, or 0 when nothing came.
int first_status(const std::string& received) {
    if (received.size() < 12 || !received.starts_with("HTTP/1.")) {
        return 0;
    }
    return std::atoi(received.c_str() + 9);
}

// The JSON body after the head of a `Connection: close` response.
boost::json::value body_of(const std::string& received) {
    const auto at = received.find("\r\n\r\n");
    if (at == std::string::npos) {
        return nullptr;
    }
    boost::system::error_code ec;
    auto v = boost::json::parse(received.substr(at + 4), ec);
    return ec ? boost::json::value(nullptr) : v;
}

class SlowRequestTest : public hub_test {
protected:
    void SetUp() override {
        start({"--limits-head-timeout", "1s", "--server-request-timeout", "2s", "--session-grace",
               "0s"});
    }

    // Sends `start`, then one byte of `drip` every 100 ms, reading all the while, until the
    // hub closes the connection or `drip` runs out. Returns what the hub sent.
    std::string trickle(const std::string& start, const std::string& drip) {
        tcp_client client(hub().host(), hub().port());
        EXPECT_TRUE(client.send(start));
        for (char c : drip) {
            client.read_some(after(100ms));
            if (client.closed() || !client.send(std::string_view(&c, 1))) {
                break;
            }
        }
        client.read_until_closed(after(10s));
        EXPECT_TRUE(client.closed());
        return client.received();
    }

    long long timeouts() {
        return metric_value(http_request(hub(), "GET", "/metrics").body,
                            "ssehub_request_timeouts_total");
    }
};

TEST_F(SlowRequestTest, AHeadThatTricklesGets408AndIsClosed) {
    // Each byte comes well within any idle timeout; only the head's own deadline can stop it.
    const auto got = trickle("GET /healthz HTTP/1.1\r\nHost: a\r\n", std::string(600, 'x'));

    EXPECT_EQ(first_status(got), 408) << got;
    EXPECT_NE(got.find("Content-Type: application/json"), std::string::npos) << got;
    EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
    auto body = body_of(got);
    ASSERT_TRUE(body.is_object()) << got;
    EXPECT_EQ(body.at("error").at("code"), "timeout");
    EXPECT_EQ(body.at("error").at("path"), "head");
    EXPECT_NE(std::string(body.at("error").at("message").as_string()).find("limits.head_timeout"),
              std::string::npos);
    EXPECT_EQ(timeouts(), 1);
    EXPECT_NE(hub().output().find("request too slow"), std::string::npos);
}

TEST_F(SlowRequestTest, ABodyThatTricklesGets408AndNothingIsPublished) {
    auto s1 = subscribe("/events?session=s1");
    const std::string head = "POST /api/v1/sessions/s1/messages HTTP/1.1\r\nHost: a\r\n"
                             "Content-Type: application/json\r\nContent-Length: 2000\r\n\r\n"
                             "{\"message\":\"";
    const auto got = trickle(head, std::string(1000, 'y'));

    EXPECT_EQ(first_status(got), 408) << got;
    auto body = body_of(got);
    ASSERT_TRUE(body.is_object()) << got;
    EXPECT_EQ(body.at("error").at("path"), "body");
    EXPECT_EQ(timeouts(), 1);
    EXPECT_FALSE(s1->next_event(after(300ms))) << "a refused push reached the stream";
}

TEST_F(SlowRequestTest, ASubscriptionWhoseBodyStallsGets408AndNoSession) {
    const std::string head = "POST /events?session=stalled HTTP/1.1\r\nHost: a\r\n"
                             "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n"
                             "{\"userId\":";
    const auto got = trickle(head, std::string(400, ' '));

    EXPECT_EQ(first_status(got), 408) << got;
    EXPECT_EQ(got.find("text/event-stream"), std::string::npos) << got;
    auto sessions = http_request(hub(), "GET", "/api/v1/sessions");
    EXPECT_EQ(sessions.body.find("stalled"), std::string::npos) << sessions.body;
}

// Beast's parser checks limits.headers per parse window and consumes a head field by field:
// a head sent in small pieces must still be bounded as a whole.
TEST_F(SlowRequestTest, AHeadSentInPiecesIsBoundedByLimitsHeadersAsAWhole) {
    tcp_client client(hub().host(), hub().port());
    ASSERT_TRUE(client.send("GET /healthz HTTP/1.1\r\nHost: a\r\n"));
    // 40 pieces of 1 KiB: 40 KiB of headers against the default limit of 16 KiB.
    for (int piece = 0; piece < 40 && !client.closed(); ++piece) {
        std::string lines;
        while (lines.size() < 1024) {
            lines += "X-" + std::to_string(piece) + "-" + std::to_string(lines.size()) + ": v\r\n";
        }
        if (!client.send(lines)) {
            break;
        }
        client.read_some(after(20ms));
    }
    client.send("\r\n");
    client.read_until_closed(after(10s));
    const auto& got = client.received();
    EXPECT_EQ(first_status(got), 431) << got.substr(0, 300);
    auto body = body_of(got);
    ASSERT_TRUE(body.is_object()) << got;
    EXPECT_EQ(body.at("error").at("path"), "headers");
}

TEST_F(SlowRequestTest, AnIdleConnectionIsClosedWithoutAnAnswer) {
    tcp_client idle(hub().host(), hub().port());
    EXPECT_TRUE(idle.read_until_closed(after(10s)));
    EXPECT_EQ(idle.received(), "");
    EXPECT_EQ(timeouts(), 0);
}

TEST_F(SlowRequestTest, KeepAliveRequestsEachGetTheirOwnTime) {
    // Three requests on one connection, a pause shorter than the idle time between them:
    // the head deadline starts with each request's first byte, not with the connection.
    http_client client(hub());
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(client.request("GET", "/healthz").status, 200);
        std::this_thread::sleep_for(600ms);
    }
    EXPECT_EQ(timeouts(), 0);
}

TEST_F(SlowRequestTest, AnOpenStreamOutlivesEveryRequestTimeout) {
    auto s1 = subscribe("/events?session=s1");
    std::this_thread::sleep_for(2500ms);
    auto r = http_request(hub(), "POST", "/api/v1/sessions/s1/messages", R"({"message":1})");
    ASSERT_EQ(r.status, 200) << r.body;
    auto e = s1->next_event(after(5s));
    ASSERT_TRUE(e);
    EXPECT_TRUE(is_event(*e, "message", "1"));
    EXPECT_FALSE(s1->ended());
}

} // namespace
} // namespace ssehub::test
