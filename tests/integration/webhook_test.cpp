// SPDX-License-Identifier: Apache-2.0
//
// The `webhook` action and the `disconnected` lists that carry it, end to end: the real
// binary, real clients that leave in each way of DESIGN.md section 4, and a real HTTP
// receiver on loopback, in this process, that records every call it gets.

#include "harness.hpp"

#include <arpa/inet.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <netinet/in.h>
#include <set>
#include <sys/socket.h>
#include <unistd.h>

namespace ssehub::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
namespace json = boost::json;

/// One call the receiver got.
struct record {
    std::string method;
    std::string target;
    std::string content_type;
    std::string signature;
    std::string body;

    json::value json() const {
        boost::system::error_code ec;
        auto v = json::parse(body, ec);
        return ec ? json::value() : v;
    }
};

/// An HTTP receiver on 127.0.0.1 with its own thread. It records each request, then
/// answers 200, answers 500, or never answers (`hang`) as told.
class receiver {
public:
    enum class mode { ok, fail, hang };

    explicit receiver(mode m = mode::ok) : mode_(m), acceptor_(ioc_) {
        const asio::ip::tcp::endpoint any{asio::ip::make_address("127.0.0.1"), 0};
        acceptor_.open(any.protocol());
        acceptor_.set_option(asio::socket_base::reuse_address(true));
        acceptor_.bind(any);
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
        accept();
        thread_ = std::thread([this] { ioc_.run(); });
    }

    ~receiver() {
        ioc_.stop();
        thread_.join();
    }

    receiver(const receiver&) = delete;
    receiver& operator=(const receiver&) = delete;

    std::string url(std::string_view path = "/") const {
        return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
    }

    std::string prefix() const { return url("/"); }

    /// Waits until at least `n` calls arrived; returns a copy of all of them.
    std::vector<record> wait_for(std::size_t n, clock::time_point deadline) {
        std::unique_lock lock(mu_);
        changed_.wait_until(lock, deadline, [&] { return records_.size() >= n; });
        return records_;
    }

    std::vector<record> records() {
        std::lock_guard lock(mu_);
        return records_;
    }

private:
    struct connection {
        explicit connection(asio::ip::tcp::socket s) : socket(std::move(s)) {}

        asio::ip::tcp::socket socket;
        beast::flat_buffer buffer;
        beast_http::request<beast_http::string_body> request;
        beast_http::response<beast_http::string_body> response;
    };

    void accept() {
        acceptor_.async_accept([this](boost::system::error_code ec, asio::ip::tcp::socket s) {
            if (ec) {
                return;
            }
            auto c = std::make_shared<connection>(std::move(s));
            beast_http::async_read(c->socket, c->buffer, c->request,
                                   [this, c](boost::system::error_code rec, std::size_t) {
                                       if (!rec) {
                                           answer(c);
                                       }
                                   });
            accept();
        });
    }

    void answer(const std::shared_ptr<connection>& c) {
        {
            std::lock_guard lock(mu_);
            records_.push_back({std::string(c->request.method_string()),
                                std::string(c->request.target()),
                                std::string(c->request[beast_http::field::content_type]),
                                std::string(c->request["X-Ssehub-Signature"]), c->request.body()});
        }
        changed_.notify_all();
        if (mode_ == mode::hang) {
            held_.push_back(c); // kept open, never answered, until the receiver goes
            return;
        }
        c->response.result(mode_ == mode::ok ? 200 : 500);
        c->response.version(11);
        c->response.keep_alive(false);
        c->response.body() = "{}";
        c->response.prepare_payload();
        beast_http::async_write(
            c->socket, c->response, [c](boost::system::error_code, std::size_t) {
                boost::system::error_code ignored;
                c->socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
            });
    }

    mode mode_;
    asio::io_context ioc_;
    asio::ip::tcp::acceptor acceptor_;
    std::uint16_t port_ = 0;
    std::thread thread_;
    std::vector<std::shared_ptr<connection>> held_;

    std::mutex mu_;
    std::condition_variable changed_;
    std::vector<record> records_;
};

/// Polls /metrics until `name` reaches `value` or the deadline passes; returns the last value.
long long wait_metric(const server_process& hub, std::string_view name, long long value,
                      clock::time_point deadline) {
    long long last = metric(hub, name);
    while (last != value && clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
        last = metric(hub, name);
    }
    return last;
}

json::value webhook(const std::string& url) {
    return {{"library", "ssehub"}, {"element", "webhook"}, {"properties", {{"url", url}}}};
}

json::value webhook(const std::string& url, json::value body) {
    return {{"library", "ssehub"},
            {"element", "webhook"},
            {"properties", {{"url", url}, {"body", std::move(body)}}}};
}

json::value register_session(std::string_view id, json::array disconnected) {
    return pin("registerSession", {{"id", id}, {"disconnected", std::move(disconnected)}});
}

/// The default body without its duration, which the test cannot know; checks that it is
/// a whole number of milliseconds first.
json::value without_duration(json::value body) {
    auto* session = body.is_object() ? body.as_object().if_contains("session") : nullptr;
    EXPECT_TRUE(session != nullptr && session->is_object()) << json::serialize(body);
    if (session == nullptr || !session->is_object()) {
        return body;
    }
    auto& s = session->as_object();
    EXPECT_TRUE(s.contains("connectedMs") && s["connectedMs"].is_int64() &&
                s["connectedMs"].as_int64() >= 0)
        << json::serialize(body);
    s.erase("connectedMs");
    return body;
}

class WebhookTest : public hub_test {
protected:
    server_process& start_with(const receiver& r, std::vector<std::string> extra = {}) {
        std::vector<std::string> args{"--session-grace", "0s", "--webhooks-allow", r.prefix()};
        args.insert(args.end(), extra.begin(), extra.end());
        return start(std::move(args));
    }

    /// Declares `id` with the field cases' recorder body and puts it in `room`.
    void declare(std::string_view id, const receiver& r) {
        const json::value body{
            {"session", "{{session.id}}"}, {"channel", "{{channel.id}}"}, {"reason", "{{reason}}"}};
        auto response = actions(json::array{
            register_session(id, {webhook(r.url("/session"), body)}),
            pin("registerChannel", {{"session", id}, {"id", "room"}}),
        });
        ASSERT_EQ(response.status, 200) << response.body;
    }

    void declare_room(const receiver& r) {
        const json::value body{
            {"session", "{{session.id}}"}, {"channel", "{{channel.id}}"}, {"reason", "{{reason}}"}};
        auto response =
            actions(pin("registerChannel",
                        {{"id", "room"}, {"disconnected", {webhook(r.url("/room"), body)}}}));
        ASSERT_EQ(response.status, 200) << response.body;
    }
};

// Without `body`, the receiver gets the action's context: reason and session.
TEST_F(WebhookTest, ADefaultBodyCarriesTheReasonAndTheSession) {
    receiver r;
    start_with(r);
    auto stream = subscribe("/dp/rs?session=s1&channel=news");
    auto response = http_request(hub(), "POST", "/api/v1/actions?digipair=dp&reasoning=rs",
                                 to_json(register_session("s1", {webhook(r.url("/left"))})));
    ASSERT_EQ(response.status, 200) << response.body;

    stream->socket().close();

    const auto calls = r.wait_for(1, after(10s));
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0].method, "POST");
    EXPECT_EQ(calls[0].target, "/left");
    EXPECT_EQ(calls[0].content_type, "application/json");
    EXPECT_TRUE(calls[0].signature.empty()) << "no secret, no signature";
    EXPECT_EQ(without_duration(calls[0].json()),
              json::parse(R"({"reason":"client_closed","session":{"id":"s1",)"
                          R"("namespace":{"digipair":"dp","reasoning":"rs"},)"
                          R"("channels":["news"]}})"));
    EXPECT_EQ(wait_metric(hub(), "webhooks_sent_total", 1, after(5s)), 1);
}

// A channel's action adds the channel to the default body.
TEST_F(WebhookTest, AChannelsDefaultBodyNamesTheChannel) {
    receiver r;
    start_with(r);
    auto stream = subscribe("/events?session=s1&channel=room");
    ASSERT_EQ(
        actions(pin("registerChannel", {{"id", "room"}, {"disconnected", {webhook(r.url())}}}))
            .status,
        200);

    ASSERT_EQ(http_request(hub(), "DELETE", "/api/v1/sessions/s1").status, 200);

    const auto calls = r.wait_for(1, after(10s));
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(without_duration(calls[0].json()),
              json::parse(R"({"reason":"kicked","session":{"id":"s1",)"
                          R"("namespace":{"digipair":"","reasoning":""},"channels":["room"]},)"
                          R"("channel":{"id":"room"}})"));
}

// F08: one record per session and one `room` record per member, each reason told apart:
// a client close, a kick, a replacement (no record: the session goes on), a shutdown.
TEST_F(WebhookTest, EachEndingProducesExactlyTheExpectedCalls) {
    receiver r;
    start_with(r);
    declare_room(r);
    auto closes = subscribe("/events?session=s1");
    auto kicked = subscribe("/events?session=s2");
    auto replaced = subscribe("/events?session=s3");
    auto stays = subscribe("/events?session=s4");
    for (const auto* id : {"s1", "s2", "s3", "s4"}) {
        declare(id, r);
    }

    closes->socket().close();
    ASSERT_EQ(http_request(hub(), "DELETE", "/api/v1/sessions/s2").status, 200);
    auto replacement = subscribe("/events?session=s3");
    ASSERT_TRUE(replaced->wait_closed(after(5s))) << "the old connection of s3 is closed";

    const auto before_shutdown = r.wait_for(4, after(10s));
    EXPECT_EQ(before_shutdown.size(), 4u);
    EXPECT_EQ(wait_metric(hub(), "action_runs_total", 2, after(5s)), 2);

    // Shutdown ends s3 (on its new connection) and s4, and waits for their webhooks.
    ASSERT_TRUE(hub().stop().clean()) << hub().output();
    auto calls = r.records();

    std::multiset<std::string> got;
    for (const auto& c : calls) {
        got.insert(c.target + " " + json::serialize(c.json()));
    }
    const std::multiset<std::string> expected{
        R"(/session {"session":"s1","channel":"","reason":"client_closed"})",
        R"(/room {"session":"s1","channel":"room","reason":"client_closed"})",
        R"(/session {"session":"s2","channel":"","reason":"kicked"})",
        R"(/room {"session":"s2","channel":"room","reason":"kicked"})",
        R"(/session {"session":"s3","channel":"","reason":"shutdown"})",
        R"(/room {"session":"s3","channel":"room","reason":"shutdown"})",
        R"(/session {"session":"s4","channel":"","reason":"shutdown"})",
        R"(/room {"session":"s4","channel":"room","reason":"shutdown"})",
    };
    EXPECT_EQ(got, expected);
}

// A receiver that answers 500 is tried 1 + webhooks.retries times, then given up and
// counted; meanwhile other clients go on receiving their events.
TEST_F(WebhookTest, AFailingReceiverIsRetriedThenGivenUpWithoutDelayingDelivery) {
    receiver r(receiver::mode::fail);
    start_with(r, {"--webhooks-retries", "2", "--webhooks-timeout", "2s"});
    auto leaving = subscribe("/events?session=gone");
    auto other = subscribe("/events?session=other");
    ASSERT_EQ(actions(register_session("gone", {webhook(r.url("/x"))})).status, 200);

    ASSERT_EQ(http_request(hub(), "DELETE", "/api/v1/sessions/gone").status, 200);
    for (int i = 0; i < 20; ++i) {
        ASSERT_EQ(http_request(hub(), "POST", "/api/v1/sessions/other/messages",
                               R"({"message":{"n":)" + std::to_string(i) + "}}")
                      .status,
                  200);
        auto event = other->next_event(after(5s));
        ASSERT_TRUE(event) << "event " << i << " never reached the other client";
        EXPECT_TRUE(is_event(*event, "message", R"({"n":)" + std::to_string(i) + "}"));
    }

    EXPECT_EQ(wait_metric(hub(), "webhooks_failed_total", 1, after(10s)), 1);
    EXPECT_EQ(r.records().size(), 3u) << "one attempt and two retries";
    EXPECT_EQ(metric(hub(), "webhooks_retries_total"), 2);
    EXPECT_EQ(metric(hub(), "webhooks_sent_total"), 0);
    EXPECT_EQ(metric(hub(), "webhooks_queued"), 0);
}

// A receiver that never answers costs one timeout per attempt, then the call is given up.
TEST_F(WebhookTest, AHangingReceiverTimesOutThenIsGivenUp) {
    receiver r(receiver::mode::hang);
    start_with(r, {"--webhooks-retries", "1", "--webhooks-timeout", "300ms"});
    auto leaving = subscribe("/events?session=gone");
    auto other = subscribe("/events?session=other");
    ASSERT_EQ(actions(register_session("gone", {webhook(r.url("/x"))})).status, 200);

    ASSERT_EQ(http_request(hub(), "DELETE", "/api/v1/sessions/gone").status, 200);
    ASSERT_EQ(
        http_request(hub(), "POST", "/api/v1/sessions/other/messages", R"({"message":1})").status,
        200);
    auto event = other->next_event(after(5s));
    ASSERT_TRUE(event) << "the other client got nothing while the webhook hung";

    EXPECT_EQ(wait_metric(hub(), "webhooks_failed_total", 1, after(10s)), 1);
    EXPECT_EQ(r.records().size(), 2u);
    EXPECT_NE(hub().output().find("webhook failed session=gone action=disconnected[0]"),
              std::string::npos)
        << hub().output();
}

// F08 variant: the first action fails (a closed port), the second still runs.
TEST_F(WebhookTest, AFailedWebhookDoesNotStopTheNextAction) {
    receiver r;
    // A port nobody listens on: bind one, note it, close it.
    asio::io_context ioc;
    asio::ip::tcp::acceptor closed(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    const auto dead_port = closed.local_endpoint().port();
    closed.close();
    const std::string dead = "http://127.0.0.1:" + std::to_string(dead_port) + "/";
    start({"--session-grace", "0s", "--webhooks-allow", r.prefix() + "," + dead,
           "--webhooks-retries", "1"});
    auto stream = subscribe("/events?session=s1");
    ASSERT_EQ(actions(register_session("s1", {webhook(dead), webhook(r.url("/ok"))})).status, 200);

    stream->socket().close();

    ASSERT_EQ(r.wait_for(1, after(10s)).size(), 1u);
    EXPECT_EQ(wait_metric(hub(), "webhooks_failed_total", 1, after(10s)), 1);
    EXPECT_NE(hub().output().find("session=s1 action=disconnected[0]"), std::string::npos)
        << hub().output();
    EXPECT_EQ(http_request(hub(), "GET", "/healthz").status, 200);
}

TEST_F(WebhookTest, ASecretSignsTheBody) {
    receiver r;
    start_with(r, {"--webhooks-secret", "Jefe"});
    ASSERT_EQ(actions(webhook(r.url(), "what do ya want for nothing?")).status, 200);

    const auto calls = r.wait_for(1, after(10s));
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0].body, R"("what do ya want for nothing?")");
    // HMAC-SHA256 of the JSON string above under the key "Jefe", computed independently
    // (openssl dgst -sha256 -hmac Jefe).
    EXPECT_EQ(calls[0].signature,
              "sha256=6e5c2a18febccaca669ac5f4415342714850e76ba86824a3371270e6dd69956f");
}

// The allow-list is checked when the action is registered, and the refusal names it.
TEST_F(WebhookTest, AUrlOutsideTheAllowListIsRefusedAtRegistration) {
    receiver r;
    start_with(r);
    auto response = actions(json::array{
        pin("registerSession", {{"id", "a"}}),
        register_session(
            "b", {{{"type", "log"}, {"message", "bye"}}, webhook("http://127.0.0.1:1/elsewhere")}),
    });
    EXPECT_TRUE(is_json_error(response, 403, "[1].properties.disconnected[1].properties.url"));
    EXPECT_EQ(http_request(hub(), "GET", "/api/v1/sessions").json().at("sessions"), json::array{})
        << "nothing of the refused document ran";
}

// actions.forward_url: a pin of another library goes there as {pin, context}.
TEST_F(WebhookTest, PinsOfOtherLibrariesAreForwardedWithTheirContext) {
    receiver r;
    start({"--session-grace", "0s", "--actions-forward-url", r.url("/engine")});
    auto stream = subscribe("/events?session=s1");
    const json::value other{{"library", "@digipair/skill-web"},
                            {"element", "page"},
                            {"properties", {{"title", "{{session.id}}"}}}};
    ASSERT_EQ(actions(register_session("s1", {other})).status, 200);

    stream->socket().close();

    const auto calls = r.wait_for(1, after(10s));
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0].target, "/engine");
    auto body = calls[0].json();
    ASSERT_TRUE(body.is_object()) << calls[0].body;
    EXPECT_EQ(body.at("pin"), other) << "the pin goes as written";
    EXPECT_EQ(without_duration(body.at("context")),
              json::parse(R"({"reason":"client_closed","session":{"id":"s1",)"
                          R"("namespace":{"digipair":"","reasoning":""},"channels":[]}})"));
}

TEST_F(WebhookTest, PinsOfOtherLibrariesAreRefusedWithoutAForwardUrl) {
    receiver r;
    start_with(r);
    auto response = actions(
        register_session("s1", {{{"library", "@digipair/skill-web"}, {"element", "page"}}}));
    EXPECT_TRUE(is_json_error(response, 400, "properties.disconnected[0].library"));
}

/// The calls as `target body` lines, compared as a multiset: the engine runs one session's
/// lists in order, but sessions that end together may interleave.
std::multiset<std::string> calls_of(const std::vector<record>& calls) {
    std::multiset<std::string> out;
    for (const auto& c : calls) {
        out.insert(c.target + " " + json::serialize(c.json()));
    }
    return out;
}

// conditions.each and previous through the binary: the webhook runs once per item with
// `{{item}}` in its body, an empty list runs nothing, and the next pin sees the array of
// results the each pin made as `{{previous}}`.
TEST_F(WebhookTest, EachRunsOncePerItemAndPreviousCarriesTheResult) {
    receiver r;
    start_with(r);
    auto stream = subscribe("/events?session=s1");
    json::value per_item = webhook(
        r.url("/each"),
        {{"session", "{{session.id}}"}, {"item", "{{item.name}}"}, {"reason", "{{reason}}"}});
    per_item.as_object()["conditions"] = {{"each", json::array{{{"name", "a"}}, {{"name", "b"}}}}};
    json::value none = webhook(r.url("/never"));
    none.as_object()["conditions"] = {{"each", json::array{}}};
    json::value after_each = webhook(r.url("/previous"), {{"previous", "{{previous}}"}});
    json::value skipped = webhook(r.url("/skipped"));
    skipped.as_object()["conditions"] = {{"each", "{{previous}}"}, {"if", "{{item.queued}}"}};
    ASSERT_EQ(actions(register_session("s1", {per_item, after_each, none, skipped})).status, 200)
        << "conditions.each is accepted at registration";

    stream->socket().close();

    // Two per item, one with previous; the each over `[]` (the empty list's result) runs
    // nothing.
    const auto calls = r.wait_for(3, after(10s));
    EXPECT_EQ(wait_metric(hub(), "action_runs_total", 1, after(5s)), 1);
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(calls_of(r.records()),
              (std::multiset<std::string>{
                  R"(/each {"session":"s1","item":"a","reason":"client_closed"})",
                  R"(/each {"session":"s1","item":"b","reason":"client_closed"})",
                  R"(/previous {"previous":"[{\"queued\":true},{\"queued\":true}]"})",
              }));
    EXPECT_EQ(metric(hub(), "action_failures_total"), 0);
}

// F08 with the recorder, for the two endings EachEndingProducesExactlyTheExpectedCalls
// cannot make on its hub: a dead peer (writes stall until the write timeout) and a slow
// consumer (the outbound limit). One session record and one `room` record per ending.
TEST_F(WebhookTest, ADeadPeerProducesExactlyItsCalls) {
    receiver r;
    start_with(r, {"--stream-write-timeout", "1s", "--stream-outbound-limit", "64MiB",
                   "--stream-keepalive", "1s"});
    declare_room(r);
    subscribe_options stopped;
    stopped.receive_buffer = 4096;
    auto dead = subscribe("/events?session=d1", stopped);
    auto alive = subscribe("/events?session=ok");
    declare("d1", r);
    declare("ok", r);

    // The client stops reading without closing: big pushes fill the socket buffers, and
    // the write that cannot progress ends the stream at the write timeout.
    const std::string big(100'000, 'x');
    for (int i = 0; i < 100 && r.records().empty(); ++i) {
        http_request(hub(), "POST", "/api/v1/sessions/d1/messages",
                     R"({"message":")" + big + "\"}");
    }
    const auto calls = r.wait_for(2, after(20s));
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(calls_of(r.records()),
              (std::multiset<std::string>{
                  R"(/session {"session":"d1","channel":"","reason":"dead_peer"})",
                  R"(/room {"session":"d1","channel":"room","reason":"dead_peer"})",
              }));
    EXPECT_GE(metric(hub(), "write_timeouts_total"), 1);
    EXPECT_EQ(metric(hub(), "slow_consumer_disconnects_total"), 0);
    EXPECT_EQ(
        http_request(hub(), "POST", "/api/v1/sessions/d1/messages", R"({"message":1})").status,
        404);
}

TEST_F(WebhookTest, ASlowConsumerProducesExactlyItsCalls) {
    receiver r;
    start_with(r, {"--stream-outbound-limit", "256KiB"});
    declare_room(r);
    subscribe_options stopped;
    stopped.receive_buffer = 4096;
    auto slow = subscribe("/events?session=s4", stopped);
    auto alive = subscribe("/events?session=ok");
    declare("s4", r);
    declare("ok", r);

    // F08: 8,000 x 1 KiB pushes to a client that stopped reading.
    const std::string kib(1000, 'k');
    for (int i = 0; i < 8000 && r.records().empty(); i += 100) {
        json::array burst;
        for (int k = 0; k < 100; ++k) {
            burst.push_back(pin("push", {{"id", "s4"}, {"message", kib}}));
        }
        ASSERT_EQ(actions(burst).status, 200);
    }
    const auto calls = r.wait_for(2, after(20s));
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(calls_of(r.records()),
              (std::multiset<std::string>{
                  R"(/session {"session":"s4","channel":"","reason":"slow_consumer"})",
                  R"(/room {"session":"s4","channel":"room","reason":"slow_consumer"})",
              }));
    EXPECT_EQ(metric(hub(), "slow_consumer_disconnects_total"), 1);

    // The one that stayed gets its pushes and ends only with the hub.
    ASSERT_EQ(
        http_request(hub(), "POST", "/api/v1/sessions/ok/messages", R"({"message":1})").status,
        200);
    EXPECT_TRUE(alive->next_event(after(5s)));
    ASSERT_TRUE(hub().stop().clean()) << hub().output();
    EXPECT_EQ(calls_of(r.records()),
              (std::multiset<std::string>{
                  R"(/session {"session":"s4","channel":"","reason":"slow_consumer"})",
                  R"(/room {"session":"s4","channel":"room","reason":"slow_consumer"})",
                  R"(/session {"session":"ok","channel":"","reason":"shutdown"})",
                  R"(/room {"session":"ok","channel":"room","reason":"shutdown"})",
              }));
}

/// A bare stream client: one socket, connected and subscribed, with no io_context of its
/// own, so a test can hold a thousand of them. Returns -1 on failure.
int open_stream(const server_process& hub, const std::string& target) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    timeval timeout{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(hub.port());
    ::inet_pton(AF_INET, hub.host().c_str(), &to.sin_addr);
    const std::string request = "GET " + target + " HTTP/1.1\r\nHost: hub\r\n\r\n";
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0 ||
        ::send(fd, request.data(), request.size(), 0) != static_cast<ssize_t>(request.size())) {
        ::close(fd);
        return -1;
    }

    // The stream is open once its `retry:` hint arrived.
    std::string got;
    char buffer[1024];
    while (got.find("retry:") == std::string::npos) {
        const auto n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) {
            ::close(fd);
            return -1;
        }
        got.append(buffer, static_cast<std::size_t>(n));
    }
    return fd;
}

// F09: `dec0`..`dec99`, declared with the recorder, each connected and closed (FIN) before
// reading a byte: one record each, never two, never none, and nothing left behind.
TEST_F(WebhookTest, ClientsClosingBeforeReadingRunTheirActionsOnce) {
    constexpr int count = 100;
    receiver r;
    start_with(r);
    const json::value body{
        {"session", "{{session.id}}"}, {"channel", "{{channel.id}}"}, {"reason", "{{reason}}"}};
    json::array declarations;
    for (int i = 0; i < count; ++i) {
        declarations.push_back(
            register_session("dec" + std::to_string(i), {webhook(r.url("/session"), body)}));
    }
    ASSERT_EQ(actions(declarations).status, 200);

    for (int i = 0; i < count; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        ASSERT_GE(fd, 0);
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(hub().port());
        ::inet_pton(AF_INET, hub().host().c_str(), &to.sin_addr);
        const std::string request =
            "GET /events?session=dec" + std::to_string(i) + " HTTP/1.1\r\nHost: hub\r\n\r\n";
        ASSERT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to), 0);
        ASSERT_EQ(::send(fd, request.data(), request.size(), 0),
                  static_cast<ssize_t>(request.size()));
        ::close(fd);
    }

    r.wait_for(count, after(20s));
    EXPECT_EQ(wait_metric(hub(), "sessions", 0, after(10s)), 0)
        << http_request(hub(), "GET", "/api/v1/sessions").body;
    EXPECT_EQ(wait_metric(hub(), "action_runs_total", count, after(10s)), count);
    std::this_thread::sleep_for(300ms);
    std::multiset<std::string> expected;
    for (int i = 0; i < count; ++i) {
        expected.insert(R"(/session {"session":"dec)" + std::to_string(i) +
                        R"(","channel":"","reason":"client_closed"})");
    }
    EXPECT_EQ(calls_of(r.records()), expected);
    EXPECT_EQ(metric(hub(), "streams"), 0);
}

/// VmRSS of a process from /proc, in KiB; -1 when unreadable.
long long rss_kib(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.starts_with("VmRSS:")) {
            return std::stoll(line.substr(6));
        }
    }
    return -1;
}

// F07 with the recorder: 1,000 clients that leave at once (with FIN, then with RST) make 1,000
// session runs and 1,000 runs of the channel's action, nothing lost; no session or channel is left
// behind, and a second round does not grow the hub's memory (a leak check, with a bound generous
// enough that allocator noise cannot fail it).
TEST_F(WebhookTest, AThousandClientsLeavingAtOnceRunEveryActionOnce) {
    constexpr std::size_t clients = 1000;
    receiver r;

    // ASan keeps freed blocks in a quarantine that grows RSS by what a round frees; without
    // it RSS measures what the hub still holds.
    const char* asan = std::getenv("ASAN_OPTIONS");
    const std::string saved = asan != nullptr ? asan : "";
    const std::string lean = (saved.empty() ? saved : saved + ":") + "quarantine_size_mb=0";
    ::setenv("ASAN_OPTIONS", lean.c_str(), 1);
    // An empty channel is forgotten once its history age has passed since its last member.
    start_with(r, {"--history-channel-age", "1s", "--history-session-age", "1s"});
    if (saved.empty()) {
        ::unsetenv("ASAN_OPTIONS");
    } else {
        ::setenv("ASAN_OPTIONS", saved.c_str(), 1);
    }
    declare_room(r);

    const json::value body{{"session", "{{session.id}}"}, {"reason", "{{reason}}"}};
    std::size_t seen = 0;
    std::vector<long long> rss;
    for (std::size_t round = 0; round < 3; ++round) {
        std::vector<int> fds;
        json::array declarations;
        const std::string prefix = "z" + std::to_string(round) + "-";
        for (std::size_t i = 0; i < clients; ++i) {
            const auto id = prefix + std::to_string(i);
            const int fd = open_stream(hub(), "/events?session=" + id + "&channel=room");
            ASSERT_GE(fd, 0) << "client " << i << " could not subscribe";
            fds.push_back(fd);
            declarations.push_back(register_session(id, {webhook(r.url("/session"), body)}));
        }
        ASSERT_EQ(actions(declarations).status, 200);
        ASSERT_EQ(wait_metric(hub(), "streams", clients, after(10s)),
                  static_cast<long long>(clients));

        const auto closing = clock::now();
        // F07: round 1 resets (RST, SO_LINGER 0 s) where the others close (FIN).
        for (const int fd : fds) {
            if (round == 1) {
                const linger reset{1, 0};
                ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
            }
            ::close(fd);
        }
        const auto all = r.wait_for(seen + 2 * clients, after(60s));
        const auto took =
            std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - closing);
        std::cout << "[ measure  ] " << clients << " disconnects -> " << all.size() - seen
                  << " webhook calls in " << took.count() << " ms\n";

        std::multiset<std::string> sessions;
        std::size_t room = 0;
        for (std::size_t i = seen; i < all.size(); ++i) {
            const auto& c = all[i];
            if (c.target == "/session") {
                sessions.insert(std::string(c.json().at("session").as_string()));
                EXPECT_EQ(c.json().at("reason"), "client_closed");
            } else if (c.target == "/room") {
                ++room;
            }
        }
        seen = all.size();
        EXPECT_EQ(sessions.size(), clients);
        EXPECT_EQ(std::set<std::string>(sessions.begin(), sessions.end()).size(), clients)
            << "each session ran once";
        EXPECT_TRUE(std::all_of(sessions.begin(), sessions.end(),
                                [&](const auto& id) { return id.starts_with(prefix); }));
        EXPECT_EQ(room, clients) << "the channel's action ran once per member";
        const auto runs = static_cast<long long>((round + 1) * clients);
        EXPECT_EQ(wait_metric(hub(), "action_runs_total", runs, after(10s)), runs);
        EXPECT_EQ(metric(hub(), "action_failures_total"), 0);
        EXPECT_EQ(metric(hub(), "sessions"), 0);
        EXPECT_EQ(wait_metric(hub(), "channels", 0, after(10s)), 0);
        EXPECT_EQ(metric(hub(), "streams"), 0);
        EXPECT_EQ(http_request(hub(), "GET", "/api/v1/sessions").json().at("sessions"),
                  json::array{});
        EXPECT_EQ(http_request(hub(), "GET", "/api/v1/channels").json().at("channels"),
                  json::array{});
        EXPECT_EQ(http_request(hub(), "GET", "/api/v1/channels/room").status, 404);
        EXPECT_EQ(wait_metric(hub(), "webhooks_queued", 0, after(10s)), 0);
        rss.push_back(rss_kib(hub().pid()));
        std::cout << "[ measure  ] hub VmRSS after round " << round << ": " << rss.back()
                  << " KiB\n";
        declare_room(r);
    }

    // Round 0 warms the allocator and the tables up; a leak of what 1,000 sessions hold
    // shows as growth in each later round. 16 MiB over two rounds is far above the noise.
    ASSERT_EQ(rss.size(), 3u);
    ASSERT_GT(rss[0], 0);
    EXPECT_LE(rss[2] - rss[0], 16 * 1024)
        << "RSS " << rss[0] << " -> " << rss[1] << " -> " << rss[2] << " KiB";
}

} // namespace
} // namespace ssehub::test

namespace ssehub::test {
namespace {

// DESIGN.md section 5: a route's connect actions run when a stream opens there, with the
// request in the context; as in a Digipair reasoning, registerChannel with
// `{{request.body.userId}}` puts a POST subscriber into its channel.
TEST(RouteConnectTest, APostSubscriberJoinsTheChannelItsBodyNames) {
    const auto file = std::filesystem::temp_directory_path() /
                      ("ssehub-routes-" + std::to_string(::getpid()) + ".toml");
    {
        std::ofstream out(file);
        out << R"([session]
grace = "0s"

[[routes]]
path = "/common/notification"
connect = [
  { library = "@digipair/skill-sse", element = "registerChannel", properties = { session = "{{session.id}}", id = "{{request.body.userId}}" } },
  { library = "@digipair/skill-sse", element = "registerChannel", properties = { session = "{{session.id}}", id = "team-{{request.query.team}}" } },
]
)";
    }
    server_process hub({"--config", file.string()});
    std::filesystem::remove(file);

    subscribe_options post;
    post.method = "POST";
    post.body = R"({"userId":"u1"})";
    sse_stream stream(hub, "/common/notification?session=s1&team=blue", post);
    ASSERT_TRUE(stream.read_head(after(5s)));
    ASSERT_EQ(stream.head().status, 200);

    // The actions run off the stream's path: wait for the membership they make.
    const std::string ns = "?digipair=common&reasoning=notification";
    http_response channel;
    for (const auto deadline = after(10s); clock::now() < deadline;) {
        channel = http_request(hub, "GET", "/api/v1/channels/u1" + ns);
        if (channel.status == 200) {
            break;
        }
        std::this_thread::sleep_for(20ms);
    }
    ASSERT_EQ(channel.status, 200) << channel.body;
    EXPECT_EQ(channel.json().at("sessions"), json::array{"s1"});
    EXPECT_EQ(http_request(hub, "GET", "/api/v1/channels/team-blue" + ns).status, 200);

    auto sent = http_request(hub, "POST", "/api/v1/channels/u1/messages" + ns,
                             R"({"message":{"hello":"u1"}})");
    ASSERT_EQ(sent.status, 200) << sent.body;
    auto event = stream.next_event(after(5s));
    ASSERT_TRUE(event) << stream.body();
    EXPECT_TRUE(is_event(*event, "message", R"({"hello":"u1"})"));

    EXPECT_TRUE(hub.stop().clean()) << hub.output();
}

} // namespace
} // namespace ssehub::test
