// SPDX-License-Identifier: Apache-2.0
//
// What a subscriber receives first: status, headers and the retry hint at once, never
// compressed (field cases F01, F02, F06, F19A), then keep-alives on a quiet stream.

#include "harness.hpp"

#include <boost/json.hpp>

namespace ssehub::test {
namespace {

namespace json = boost::json;

constexpr std::string_view cache_control =
    "private, no-cache, no-store, no-transform, must-revalidate, max-age=0";

/// The response head of DESIGN.md section 2, each header once.
void expect_stream_head(const response_head& head) {
    EXPECT_EQ(head.status, 200) << head.raw;
    EXPECT_TRUE(head.status_line.starts_with("HTTP/1.1 200")) << head.status_line;

    EXPECT_EQ(head.header("Content-Type"), "text/event-stream") << head.raw;
    EXPECT_EQ(head.header("Cache-Control"), std::string(cache_control)) << head.raw;
    EXPECT_EQ(head.header("Connection"), "keep-alive") << head.raw;
    EXPECT_EQ(head.header("Pragma"), "no-cache") << head.raw;
    EXPECT_EQ(head.header("X-Accel-Buffering"), "no") << head.raw;
    EXPECT_EQ(head.header("Transfer-Encoding"), "chunked") << head.raw;

    for (const char* name : {"Content-Type", "Cache-Control", "Connection", "Pragma",
                             "X-Accel-Buffering", "Transfer-Encoding"}) {
        EXPECT_EQ(count_header(head.headers, name), 1u) << name << " in\n" << head.raw;
    }
    EXPECT_EQ(count_header(head.headers, "Content-Length"), 0u) << head.raw;
    EXPECT_EQ(count_header(head.headers, "Content-Encoding"), 0u) << head.raw;
}

struct start_case {
    std::string name;
    std::string method;
    std::string target;
    std::string body;
    std::string session;  ///< empty: the hub generates one
    std::string digipair; ///< namespace of the session, for the push
    std::string reasoning;
};

std::ostream& operator<<(std::ostream& os, const start_case& c) {
    return os << c.method << " " << c.target;
}

class StreamStartTest : public hub_test, public ::testing::WithParamInterface<start_case> {
protected:
    void SetUp() override { start({"--stream-keepalive", "60s"}); }

    std::unique_ptr<sse_stream> open(const start_case& c) {
        subscribe_options options;
        options.method = c.method;
        options.body = c.body;
        options.headers = {{"Accept-Encoding", "gzip, deflate, br"}};
        return std::make_unique<sse_stream>(hub(), c.target, options);
    }

    /// Pushes `message` to the case's session and returns when the call has returned.
    http_response push(const start_case& c, std::string_view message) {
        if (c.digipair.empty()) {
            return http_request(hub(), "POST", "/api/v1/sessions/" + c.session + "/messages",
                                R"({"message":)" + std::string(message) + "}");
        }
        json::object properties{{"id", c.session},
                                {"message", json::parse(message)},
                                {"digipair", c.digipair},
                                {"reasoning", c.reasoning}};
        return actions(pin("push", properties));
    }
};

// F02: status, all headers and `retry:2000` go out at once, before any event exists.
TEST_P(StreamStartTest, HeadersArriveBeforeAnyEvent) {
    const start_case& c = GetParam();
    auto stream = open(c);

    ASSERT_TRUE(stream->read_head(after(5s))) << "no response head";
    expect_stream_head(stream->head());

    constexpr std::string_view retry = "retry:2000\n\n";
    ASSERT_TRUE(stream->read_body(retry.size(), after(5s))) << stream->body();
    EXPECT_EQ(stream->body().substr(0, retry.size()), retry);
    auto took = stream->body_arrival(retry.size() - 1) - stream->sent_at();
    EXPECT_LE(took, 100ms) << "retry: took "
                           << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                           << " ms";

    // Without `session`, the event that announces the generated id comes in the same 100 ms.
    if (c.session.empty()) {
        auto first = stream->next_frame(after(5s));
        ASSERT_TRUE(first);
        auto announcement = stream->next_event(after(5s));
        ASSERT_TRUE(announcement) << "no announcement of the generated session id";
        EXPECT_FALSE(announcement->data.empty()) << announcement->raw;
        EXPECT_LE(announcement->at - stream->sent_at(), 100ms);
    }
}

// F01: no compression layer holds the event back; it is delivered within 100 ms.
TEST_P(StreamStartTest, PushIsDeliveredUncompressedAtOnce) {
    const start_case& c = GetParam();
    if (c.session.empty()) {
        GTEST_SKIP() << "the generated id is covered by HeadersArriveBeforeAnyEvent";
    }
    auto stream = open(c);
    ASSERT_TRUE(stream->read_head(after(5s)));
    ASSERT_TRUE(stream->next_frame(after(5s))) << "no retry hint";
    EXPECT_EQ(count_header(stream->head().headers, "Content-Encoding"), 0u);

    http_response pushed = push(c, R"({"n":1})");
    clock::time_point returned = clock::now();
    ASSERT_EQ(pushed.status, 200) << pushed.body;

    auto event = stream->next_event(after(5s));
    ASSERT_TRUE(event) << stream->body();
    EXPECT_TRUE(is_event(*event, "message", R"({"n":1})"));
    EXPECT_LE(event->at - returned, 100ms);
}

INSTANTIATE_TEST_SUITE_P(
    Subscriptions, StreamStartTest,
    ::testing::Values(start_case{"Get", "GET", "/events?session=s1&channel=quiet", "", "s1", "",
                                 ""},
                      start_case{"PostWithJsonBody", "POST", "/events?session=s1&channel=quiet",
                                 R"({"userId":"u1"})", "s1", "", ""},
                      start_case{"Namespaced", "GET", "/dp/r?session=s2", "", "s2", "dp", "r"},
                      start_case{"WithoutSession", "GET", "/events?channel=quiet", "", "", "", ""}),
    [](const auto& info) { return info.param.name; });

class StreamSettingsTest : public hub_test {};

// HTTP/1.0 has no chunked framing: the body ends when the connection closes, and the head
// says so instead of promising a kept-alive connection.
TEST_F(StreamSettingsTest, AnHttp10StreamEndsWithItsConnection) {
    start();
    tcp_client client(hub().host(), hub().port());
    ASSERT_TRUE(client.send("GET /dp/r?session=h10 HTTP/1.0\r\nHost: x\r\n\r\n"));
    ASSERT_NE(client.read_until("retry:", after(5s)), std::string::npos) << client.received();
    const std::string head = client.received().substr(0, client.received().find("\r\n\r\n"));
    EXPECT_NE(head.find("\r\nConnection: close"), std::string::npos) << head;
    EXPECT_EQ(head.find("keep-alive"), std::string::npos) << head;
    EXPECT_EQ(head.find("Transfer-Encoding"), std::string::npos) << head;

    ASSERT_EQ(http_request(hub(), "POST", "/api/v1/sessions/h10/messages?digipair=dp&reasoning=r",
                           R"({"message":{"v":10}})")
                  .status,
              200);
    EXPECT_NE(client.read_until("data:{\"v\":10}\n\n", after(5s)), std::string::npos)
        << client.received();
}

// F23 A: the configured retry is written as whole milliseconds.
TEST_F(StreamSettingsTest, RetryFollowsConfiguration) {
    start({"--stream-retry", "500ms"});
    sse_stream stream(hub(), "/events?session=r1");

    ASSERT_TRUE(stream.read_head(after(5s)));
    ASSERT_TRUE(stream.read_body(11, after(5s))) << stream.body();
    EXPECT_EQ(stream.body().substr(0, 11), "retry:500\n\n");
}

// F11, F14 B: a quiet stream gets exactly `:\n\n` once per period and stays open.
TEST_F(StreamSettingsTest, KeepAliveEveryPeriodOnQuietStream) {
    start({"--stream-keepalive", "1s"});
    sse_stream stream(hub(), "/events?session=k1&channel=quiet");
    ASSERT_TRUE(stream.read_head(after(5s)));
    auto retry = stream.next_frame(after(5s));
    ASSERT_TRUE(retry && retry->retry);
    auto cursor = stream.next_frame(after(5s)); // where the stream starts, in the same write
    ASSERT_TRUE(cursor && cursor->is_cursor()) << stream.body();
    clock::time_point opened = retry->at;

    std::vector<clock::time_point> beats;
    clock::time_point until = after(3500ms);
    while (auto frame = stream.next_frame(until)) {
        EXPECT_EQ(frame->raw, ":\n\n") << "only keep-alives on a quiet stream";
        beats.push_back(frame->at);
    }
    EXPECT_FALSE(stream.ended()) << "the hub ended a quiet stream";

    ASSERT_GE(beats.size(), 3u);
    EXPECT_LE(beats.size(), 4u);
    clock::time_point previous = opened;
    for (auto at : beats) {
        auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(at - previous);
        EXPECT_GE(gap, 700ms);
        EXPECT_LE(gap, 1300ms);
        previous = at;
    }
}

// F06: body offset 0 is `r` of `retry:`, never a byte-order mark.
TEST_F(StreamSettingsTest, BodyNeverStartsWithByteOrderMark) {
    start();
    sse_stream stream(hub(), "/events?session=bom");
    ASSERT_TRUE(stream.read_head(after(5s)));
    ASSERT_TRUE(stream.read_body(1, after(5s)));
    EXPECT_EQ(stream.body().front(), 'r');
    EXPECT_FALSE(stream.body().starts_with("\xEF\xBB\xBF"));
}

// F19 A: HTTP/1.1 keeps the skill's connection headers and never a Content-Length.
TEST_F(StreamSettingsTest, ResponseIsChunkedWithoutContentLength) {
    start();
    sse_stream stream(hub(), "/events?session=s1&channel=c");
    ASSERT_TRUE(stream.read_head(after(5s)));
    ASSERT_TRUE(stream.next_frame(after(5s)));

    EXPECT_EQ(stream.head().header("Connection"), "keep-alive");
    EXPECT_EQ(stream.head().header("Transfer-Encoding"), "chunked");
    EXPECT_EQ(count_header(stream.head().headers, "Content-Length"), 0u);
    EXPECT_FALSE(stream.framing_error()) << stream.raw();
}

} // namespace
} // namespace ssehub::test
