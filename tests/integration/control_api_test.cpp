// SPDX-License-Identifier: Apache-2.0
//
// The control API of DESIGN.md section 3 against real streams: results, errors, membership,
// introspection, limits, replacement, bursts and fan-out (F14A, F15, F16, F20, F27).

#include "harness.hpp"

#include <boost/json.hpp>

namespace ssehub::test {
namespace {

namespace json = boost::json;

bool is_success(int status) {
    return status >= 200 && status < 300;
}

/// The number of entries of a listing (a bare array, or the first array member of an
/// object) that mention `s`.
std::size_t entries_mentioning(const json::value& listing, std::string_view s) {
    const json::array* entries = listing.if_array();
    if (entries == nullptr && listing.is_object()) {
        for (const auto& kv : listing.as_object()) {
            if (kv.value().is_array()) {
                entries = &kv.value().as_array();
                break;
            }
        }
    }
    if (entries == nullptr) {
        return 0;
    }
    return static_cast<std::size_t>(std::count_if(
        entries->begin(), entries->end(), [&](const json::value& e) { return mentions(e, s); }));
}

class ControlApiTest : public hub_test {
protected:
    void SetUp() override { start(); }

    http_response rest_push(std::string_view session, std::string_view message,
                            std::string_view event = {}) {
        std::string body = R"({"message":)" + std::string(message);
        if (!event.empty()) {
            body += R"(,"event":")" + std::string(event) + "\"";
        }
        return http_request(hub(), "POST", "/api/v1/sessions/" + std::string(session) + "/messages",
                            body + "}");
    }

    http_response rest_broadcast(std::string_view channel, std::string_view message,
                                 std::string_view event = {}) {
        std::string body = R"({"message":)" + std::string(message);
        if (!event.empty()) {
            body += R"(,"event":")" + std::string(event) + "\"";
        }
        return http_request(hub(), "POST", "/api/v1/channels/" + std::string(channel) + "/messages",
                            body + "}");
    }
};

TEST_F(ControlApiTest, RestPushReturnsDeliveredAndEventId) {
    auto stream = subscribe("/events?session=s1");

    http_response r = rest_push("s1", R"({"hello":1})");

    ASSERT_EQ(r.status, 200) << r.body;
    json::value result = r.json();
    EXPECT_EQ(result.at("delivered"), 1) << r.body;
    ASSERT_TRUE(result.at("eventId").is_string()) << r.body;
    auto event = stream->next_event(after(5s));
    ASSERT_TRUE(event);
    EXPECT_TRUE(is_event(*event, "message", R"({"hello":1})"));
    EXPECT_EQ(event->id, std::string(result.at("eventId").as_string()));
}

TEST_F(ControlApiTest, RestPushCarriesItsEventName) {
    auto stream = subscribe("/events?session=s1");

    ASSERT_EQ(rest_push("s1", R"({"v":1})", "notice").status, 200);

    auto event = stream->next_event(after(5s));
    ASSERT_TRUE(event);
    EXPECT_TRUE(is_event(*event, "notice", R"({"v":1})"));
}

TEST_F(ControlApiTest, RestBroadcastReturnsDeliveredEventIdAndSessions) {
    auto a = subscribe("/events?session=a&channel=room");
    auto b = subscribe("/events?session=b&channel=room");

    http_response r = rest_broadcast("room", R"({"all":true})", "update");

    ASSERT_EQ(r.status, 200) << r.body;
    json::value result = r.json();
    EXPECT_EQ(result.at("delivered"), 2) << r.body;
    EXPECT_EQ(result.at("sessions"), 2) << r.body;
    ASSERT_TRUE(result.at("eventId").is_string()) << r.body;
    for (auto* stream : {a.get(), b.get()}) {
        auto event = stream->next_event(after(5s));
        ASSERT_TRUE(event);
        EXPECT_TRUE(is_event(*event, "update", R"({"all":true})"));
        EXPECT_EQ(event->id, std::string(result.at("eventId").as_string()));
    }
}

TEST_F(ControlApiTest, PinsReturnOneResultEach) {
    auto stream = subscribe("/events?session=s1&channel=room");

    json::array document{pin("push", {{"id", "s1"}, {"message", {{"n", 1}}}}),
                         pin("broadcast", {{"id", "room"}, {"message", {{"n", 2}}}})};
    http_response r = actions(document);

    ASSERT_EQ(r.status, 200) << r.body;
    json::value results = r.json();
    ASSERT_TRUE(results.is_array()) << r.body;
    ASSERT_EQ(results.as_array().size(), 2u);
    EXPECT_EQ(results.at(0).at("delivered"), 1);
    EXPECT_TRUE(results.at(0).at("eventId").is_string());
    EXPECT_EQ(results.at(1).at("delivered"), 1);
    EXPECT_EQ(results.at(1).at("sessions"), 1);
    EXPECT_TRUE(results.at(1).at("eventId").is_string());

    auto first = stream->next_event(after(5s));
    auto second = stream->next_event(after(5s));
    ASSERT_TRUE(first && second);
    EXPECT_TRUE(is_event(*first, "message", R"({"n":1})"));
    EXPECT_TRUE(is_event(*second, "message", R"({"n":2})"));
    EXPECT_NE(first->id, second->id);
}

TEST_F(ControlApiTest, PushToUnknownSessionIsNotFoundOnRestAndAResultInPins) {
    http_response rest = rest_push("nobody", R"({"m":1})");
    EXPECT_TRUE(is_json_error(rest, 404));

    http_response pinned = actions(pin("push", {{"id", "nobody"}, {"message", {{"m", 1}}}}));
    ASSERT_EQ(pinned.status, 200) << pinned.body;
    json::value result = pinned.json();
    EXPECT_EQ(result.at("delivered"), 0) << pinned.body;
    ASSERT_TRUE(result.as_object().contains("warning")) << pinned.body;
    EXPECT_TRUE(result.at("warning").is_string() && !result.at("warning").as_string().empty());
}

// F16, first half: leaving and joining take effect as soon as the call returns.
TEST_F(ControlApiTest, MembershipChangesTakeEffectAtOnce) {
    auto stream = subscribe("/events?session=member-1&channel=room-a&channel=room-b");

    http_response left = http_request(hub(), "DELETE", "/api/v1/channels/room-a/sessions/member-1");
    EXPECT_TRUE(is_success(left.status)) << left.status << " " << left.body;

    // room-a has no member now, and stays known until its history expires (fix 5, F16).
    http_response channel = http_request(hub(), "GET", "/api/v1/channels/room-a");
    ASSERT_EQ(channel.status, 200) << channel.body;
    EXPECT_FALSE(mentions(channel.json(), "member-1")) << channel.body;
    http_response to_a = rest_broadcast("room-a", R"({"to":"a"})");
    ASSERT_EQ(to_a.status, 200) << to_a.body;
    EXPECT_EQ(to_a.json().at("delivered"), 0) << to_a.body;
    ASSERT_EQ(rest_broadcast("room-b", R"({"to":"b"})").status, 200);

    http_response joined = http_request(hub(), "PUT", "/api/v1/channels/room-a/sessions/member-1");
    EXPECT_TRUE(is_success(joined.status)) << joined.status << " " << joined.body;
    http_response to_a2 = rest_broadcast("room-a", R"({"to":"a2"})");
    ASSERT_EQ(to_a2.status, 200) << to_a2.body;
    EXPECT_EQ(to_a2.json().at("delivered"), 1) << to_a2.body;

    auto first = stream->next_event(after(5s));
    auto second = stream->next_event(after(5s));
    ASSERT_TRUE(first && second) << stream->body();
    EXPECT_TRUE(is_event(*first, "message", R"({"to":"b"})"));
    EXPECT_TRUE(is_event(*second, "message", R"({"to":"a2"})"));
    EXPECT_EQ(stream->body().find(R"({"to":"a"})"), std::string::npos);
    EXPECT_FALSE(stream->ended()) << "leaving a channel must not end the stream";
}

TEST_F(ControlApiTest, IntrospectionListsSessionsAndChannels) {
    auto stream = subscribe("/events?session=watcher&channel=lobby");

    http_response sessions = http_request(hub(), "GET", "/api/v1/sessions");
    ASSERT_EQ(sessions.status, 200) << sessions.body;
    EXPECT_TRUE(mentions(sessions.json(), "watcher")) << sessions.body;
    EXPECT_TRUE(mentions(sessions.json(), "lobby")) << sessions.body;

    http_response channels = http_request(hub(), "GET", "/api/v1/channels");
    ASSERT_EQ(channels.status, 200) << channels.body;
    EXPECT_TRUE(mentions(channels.json(), "lobby")) << channels.body;

    http_response lobby = http_request(hub(), "GET", "/api/v1/channels/lobby");
    ASSERT_EQ(lobby.status, 200) << lobby.body;
    EXPECT_TRUE(mentions(lobby.json(), "watcher")) << lobby.body;

    EXPECT_TRUE(is_json_error(http_request(hub(), "GET", "/api/v1/channels/nowhere"), 404));
}

TEST_F(ControlApiTest, DeleteSessionClosesItsStream) {
    auto stream = subscribe("/events?session=leaving");

    http_response r = http_request(hub(), "DELETE", "/api/v1/sessions/leaving");
    EXPECT_TRUE(is_success(r.status)) << r.status << " " << r.body;

    EXPECT_TRUE(stream->wait_closed(after(2s))) << "the hub kept the stream open";

    // The session keeps its grace for a resume; a second DELETE ends it for good.
    EXPECT_TRUE(is_success(http_request(hub(), "DELETE", "/api/v1/sessions/leaving").status));
    EXPECT_TRUE(is_json_error(http_request(hub(), "DELETE", "/api/v1/sessions/leaving"), 404));
}

// Fix 2 of DESIGN.md section 2, F24: a reconnect with the same id replaces the old
// connection; pushes reach only the new one.
TEST_F(ControlApiTest, ReconnectWithSameSessionReplacesOldConnection) {
    auto old_stream = subscribe("/events?session=dup");
    auto new_stream = subscribe("/events?session=dup");

    EXPECT_TRUE(old_stream->wait_closed(after(1s))) << "the replaced connection is still open";

    http_response first = rest_push("dup", R"({"n":1})");
    ASSERT_EQ(first.status, 200) << first.body;
    EXPECT_EQ(first.json().at("delivered"), 1) << first.body;

    // The old socket going away never detaches the new one.
    old_stream->socket().reset();
    http_response second = rest_push("dup", R"({"n":2})");
    ASSERT_EQ(second.status, 200) << second.body;
    EXPECT_EQ(second.json().at("delivered"), 1) << second.body;

    for (std::string_view n : {R"({"n":1})", R"({"n":2})"}) {
        auto event = new_stream->next_event(after(5s));
        ASSERT_TRUE(event) << new_stream->body();
        EXPECT_TRUE(is_event(*event, "message", n));
    }
    EXPECT_EQ(old_stream->body().find("data:"), std::string::npos) << old_stream->body();

    http_response sessions = http_request(hub(), "GET", "/api/v1/sessions");
    EXPECT_EQ(entries_mentioning(sessions.json(), "dup"), 1u) << sessions.body;
}

// F20 A: one stream carries every channel, each broadcast once, in order.
TEST_F(ControlApiTest, OneStreamCarriesSevenChannelsInOrder) {
    const std::vector<std::string> channels{"a", "b", "c", "d", "e", "f", "g"};
    std::string target = "/events?session=s1";
    for (const auto& c : channels) {
        target += "&channel=" + c;
    }
    auto stream = subscribe(target);

    for (const auto& c : channels) {
        http_response r = rest_broadcast(c, R"({"ch":")" + c + "\"}", c);
        ASSERT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(r.json().at("delivered"), 1) << c << ": " << r.body;
    }
    for (const auto& c : channels) {
        auto event = stream->next_event(after(5s));
        ASSERT_TRUE(event) << "channel " << c << " missing";
        EXPECT_TRUE(is_event(*event, c, R"({"ch":")" + c + "\"}"));
    }
    EXPECT_FALSE(stream->next_event(after(200ms))) << "an event arrived twice";

    http_response sessions = http_request(hub(), "GET", "/api/v1/sessions");
    for (const auto& c : channels) {
        EXPECT_TRUE(mentions(sessions.json(), c))
            << "s1 is not listed in " << c << ": " << sessions.body;
    }
}

// F14 A: a burst is queued in full, in order, from one actions document and from REST
// pushes on one keep-alive connection.
TEST_F(ControlApiTest, ThousandPushesArriveInOrder) {
    auto stream = subscribe("/events?session=s1");
    constexpr int count = 1000;

    json::array document;
    for (int i = 0; i < count; ++i) {
        document.push_back(pin("push", {{"id", "s1"}, {"message", {{"seq", i}}}}));
    }
    http_response r = actions(document);
    ASSERT_EQ(r.status, 200) << r.body.substr(0, 500);
    json::value results = r.json();
    ASSERT_TRUE(results.is_array());
    ASSERT_EQ(results.as_array().size(), static_cast<std::size_t>(count));
    int not_delivered = 0;
    for (const auto& result : results.as_array()) {
        not_delivered += result.at("delivered") == 1 ? 0 : 1;
    }
    EXPECT_EQ(not_delivered, 0);

    http_client client(hub());
    for (int i = count; i < 2 * count; ++i) {
        http_response pushed = client.request("POST", "/api/v1/sessions/s1/messages",
                                              R"({"message":{"seq":)" + std::to_string(i) + "}}");
        ASSERT_EQ(pushed.status, 200) << i << ": " << pushed.body;
    }

    for (int i = 0; i < 2 * count; ++i) {
        auto event = stream->next_event(after(10s));
        ASSERT_TRUE(event) << "seq " << i << " missing";
        ASSERT_TRUE(is_event(*event, "message", R"({"seq":)" + std::to_string(i) + "}"));
    }
}

TEST_F(ControlApiTest, BodyOverOneMebibyteIsTooLarge) {
    std::string big(1u << 20, 'x');
    http_response pinned = http_request(
        hub(), "POST", "/api/v1/actions",
        R"({"library":"@digipair/skill-sse","element":"push","properties":{"id":"s1","message":")" +
            big + "\"}}");
    EXPECT_TRUE(is_json_error(pinned, 413));

    http_response rest = http_request(hub(), "POST", "/api/v1/sessions/s1/messages",
                                      R"({"message":")" + big + "\"}");
    EXPECT_TRUE(is_json_error(rest, 413));

    EXPECT_EQ(http_request(hub(), "GET", "/healthz").status, 200) << "the hub did not survive";
}

TEST_F(ControlApiTest, MalformedJsonIsBadRequest) {
    EXPECT_TRUE(
        is_json_error(http_request(hub(), "POST", "/api/v1/actions", R"({"library":)"), 400));
    EXPECT_TRUE(is_json_error(http_request(hub(), "POST", "/api/v1/actions", "not json"), 400));
    EXPECT_TRUE(is_json_error(
        http_request(hub(), "POST", "/api/v1/sessions/s1/messages", R"({"message":{"a":1)"), 400));
    EXPECT_TRUE(
        is_json_error(http_request(hub(), "POST", "/api/v1/channels/c/messages", "[1,2"), 400));
}

TEST_F(ControlApiTest, MissingMessageNamesItsPath) {
    EXPECT_TRUE(is_json_error(actions(json::array{pin("push", {{"id", "s1"}})}), 400,
                              "[0].properties.message"));
    EXPECT_TRUE(is_json_error(
        http_request(hub(), "POST", "/api/v1/channels/c/messages", R"({"event":"x"})"), 400,
        "message"));
}

TEST_F(ControlApiTest, UnknownRouteIsNotFoundJson) {
    EXPECT_TRUE(is_json_error(http_request(hub(), "GET", "/api/v1/nothing-here"), 404));
    EXPECT_TRUE(is_json_error(http_request(hub(), "POST", "/api/v2/actions", "{}"), 404));
}

TEST_F(ControlApiTest, HealthAndReadinessAnswerOk) {
    EXPECT_EQ(http_request(hub(), "GET", "/healthz").status, 200);
    EXPECT_EQ(http_request(hub(), "GET", "/readyz").status, 200);
}

/// F20 B and F27: a subscription is validated before its 200.
class SubscriptionValidationTest : public hub_test {
protected:
    void SetUp() override { start({"--limits-channels-per-session", "3"}); }

    /// Expects an error response with `status` as the very first bytes, a complete JSON
    /// error whose path starts with `path_prefix`, and no stream.
    void expect_refused(const std::string& target, int status, std::string_view path_prefix,
                        subscribe_options options = {}) {
        SCOPED_TRACE(target);
        sse_stream stream(hub(), target, std::move(options));
        ASSERT_TRUE(stream.read_head(after(5s))) << "no response";
        EXPECT_TRUE(stream.raw().starts_with("HTTP/1.1 " + std::to_string(status)))
            << stream.raw().substr(0, 200);
        EXPECT_TRUE(stream.read_complete_body(after(5s))) << "incomplete error body";
        EXPECT_TRUE(is_json_error(stream.head(), stream.body(), status));
        EXPECT_NE(stream.head().header("Content-Type"), "text/event-stream");
        EXPECT_EQ(stream.body().find("retry:"), std::string::npos);

        boost::system::error_code ec;
        json::value v = json::parse(stream.body(), ec);
        if (!ec && v.is_object() && v.as_object().contains("error") &&
            v.at("error").as_object().contains("path")) {
            std::string path(v.at("error").at("path").as_string());
            EXPECT_TRUE(path.starts_with(path_prefix)) << "path " << path;
        }
    }
};

TEST_F(SubscriptionValidationTest, TooManyChannelsIsRefusedBeforeAnyStreamByte) {
    expect_refused("/events?session=many&channel=a&channel=b&channel=c&channel=d", 429, "channel");

    http_response sessions = http_request(hub(), "GET", "/api/v1/sessions");
    EXPECT_FALSE(mentions(sessions.json(), "many")) << sessions.body;
}

TEST_F(SubscriptionValidationTest, InvalidParametersAreRefusedBeforeTheStream) {
    expect_refused("/events?session=" + std::string(129, 'a'), 400, "session");
    expect_refused("/events?session=a%0Ab", 400, "session");
    expect_refused("/events?session=ok&channel=c%00x", 400, "channel");

    subscribe_options truncated;
    truncated.method = "POST";
    truncated.body = R"({"userId":)";
    expect_refused("/events?session=p27", 400, "body", truncated);

    // Nothing was created, and a valid subscription right after works.
    http_response sessions = http_request(hub(), "GET", "/api/v1/sessions");
    EXPECT_FALSE(mentions(sessions.json(), std::string(129, 'a'))) << sessions.body;
    EXPECT_FALSE(mentions(sessions.json(), "ok")) << sessions.body;
    EXPECT_FALSE(mentions(sessions.json(), "p27")) << sessions.body;
    auto stream = subscribe("/events?session=valid&channel=a&channel=b&channel=c");
    EXPECT_EQ(stream->head().status, 200);
}

TEST_F(SubscriptionValidationTest, LongestAllowedSessionIdIsAccepted) {
    auto stream = subscribe("/events?session=" + std::string(128, 'a'));
    EXPECT_EQ(stream->head().status, 200);
}

/// F15: every subscriber gets every event; a late one gets only what follows.
class FanOutTest : public hub_test {};

TEST_F(FanOutTest, EverySubscriberGetsEveryBroadcast) {
    start();
    std::vector<std::unique_ptr<sse_stream>> early;
    for (const char* s : {"s1", "s2", "s3"}) {
        early.push_back(subscribe(std::string("/events?session=") + s + "&channel=c"));
    }

    constexpr int count = 1000;
    std::unique_ptr<sse_stream> late;
    http_client client(hub());
    for (int i = 1; i <= count; ++i) {
        http_response r = client.request("POST", "/api/v1/channels/c/messages",
                                         R"({"message":{"i":)" + std::to_string(i) + "}}");
        ASSERT_EQ(r.status, 200) << i << ": " << r.body;
        ASSERT_EQ(r.json().at("delivered"), late ? 4 : 3) << i << ": " << r.body;
        if (i == count / 2) {
            late = subscribe("/events?session=s4&channel=c");
        }
    }

    for (auto& stream : early) {
        for (int i = 1; i <= count; ++i) {
            auto event = stream->next_event(after(10s));
            ASSERT_TRUE(event) << i << " missing";
            ASSERT_TRUE(is_event(*event, "message", R"({"i":)" + std::to_string(i) + "}"));
        }
    }
    for (int i = count / 2 + 1; i <= count; ++i) {
        auto event = late->next_event(after(10s));
        ASSERT_TRUE(event) << i << " missing for s4";
        ASSERT_TRUE(is_event(*event, "message", R"({"i":)" + std::to_string(i) + "}"));
    }

    // The default channel "" reaches every session of the namespace, not another one.
    auto other = subscribe("/dp/r?session=x");
    http_response everyone = actions(pin("broadcast", {{"message", {{"all", true}}}}));
    ASSERT_EQ(everyone.status, 200) << everyone.body;
    EXPECT_EQ(everyone.json().at("delivered"), 4) << everyone.body;
    for (auto* stream : {early[0].get(), early[1].get(), early[2].get(), late.get()}) {
        auto event = stream->next_event(after(5s));
        ASSERT_TRUE(event);
        EXPECT_TRUE(is_event(*event, "message", R"({"all":true})"));
    }
    EXPECT_FALSE(other->next_event(after(300ms))) << "another namespace got the broadcast";
}

// Probes and metrics are read-only; another method is refused, as on every other route.
TEST_F(ControlApiTest, ProbesAndMetricsRefuseOtherMethods) {
    for (const char* target : {"/healthz", "/readyz", "/metrics"}) {
        for (const char* method : {"POST", "DELETE", "PUT"}) {
            http_response r = http_request(hub(), method, target);
            EXPECT_TRUE(is_json_error(r, 405)) << method << " " << target << ": " << r.body;
            EXPECT_EQ(r.header("Allow"), "GET") << method << " " << target;
        }
        EXPECT_EQ(http_request(hub(), "GET", target).status, 200) << target;
    }
}

// A body that is JSON but no pin, or no JSON at all, is refused with the body as its path
// and a reason a person can act on.
TEST_F(ControlApiTest, BodiesThatAreNoPinsSayWhy) {
    http_response number = http_request(hub(), "POST", "/api/v1/actions", "42");
    ASSERT_TRUE(is_json_error(number, 400)) << number.body;
    EXPECT_EQ(number.json().at("error").at("path"), "body") << number.body;

    http_response binary =
        http_request(hub(), "POST", "/api/v1/sessions/s/messages", "{\"message\":\"\xff\"}");
    ASSERT_TRUE(is_json_error(binary, 400)) << binary.body;
    EXPECT_EQ(binary.json().at("error").at("path"), "body") << binary.body;
    EXPECT_NE(binary.body.find("not valid UTF-8"), std::string::npos) << binary.body;

    http_response cut = http_request(hub(), "POST", "/api/v1/actions", R"({"library":)");
    ASSERT_TRUE(is_json_error(cut, 400)) << cut.body;
    EXPECT_NE(cut.body.find("at byte 11"), std::string::npos) << cut.body;
}

// 1e999 parses as infinity and would be written `data:Infinity`, which no client parses.
TEST_F(ControlApiTest, NumbersTooLargeForJsonAreRefusedOnEveryRoute) {
    auto stream = subscribe("/events?session=big");
    http_response rest = rest_push("big", R"({"n":[1,1e999]})");
    ASSERT_TRUE(is_json_error(rest, 400)) << rest.body;
    EXPECT_EQ(rest.json().at("error").at("path"), "message.n[1]") << rest.body;
    http_response all =
        http_request(hub(), "POST", "/api/v1/channels/c/messages", R"({"message":-1e999})");
    EXPECT_TRUE(is_json_error(all, 400)) << all.body;
    http_response pinned = http_request(hub(), "POST", "/api/v1/actions",
                                        R"({"library":"@digipair/skill-sse","element":"push",)"
                                        R"("properties":{"id":"big","message":1e999}})");
    EXPECT_TRUE(is_json_error(pinned, 400)) << pinned.body;

    ASSERT_EQ(rest_push("big", R"({"n":1})").status, 200);
    auto event = stream->next_event(after(5s));
    ASSERT_TRUE(event) << stream->body();
    EXPECT_TRUE(is_event(*event, "message", R"({"n":1})")) << "a refused message got through";
}

} // namespace
} // namespace ssehub::test
