// SPDX-License-Identifier: Apache-2.0
//
// The four action examples of the Digipair SSE skill's documentation, read from
// shared/cases/digipair/ and sent byte for byte (DESIGN.md section 2).

#include "harness.hpp"

#include <boost/json.hpp>

namespace ssehub::test {
namespace {

namespace json = boost::json;

std::string digipair_case(std::string_view name) {
    return read_file(shared_dir() / "cases" / "digipair" / (std::string(name) + ".json"));
}

/// `sessions` of a registerChannel result: a count, or the list of members.
std::optional<std::size_t> member_count(const json::value& sessions) {
    if (sessions.is_int64() || sessions.is_uint64()) {
        return static_cast<std::size_t>(sessions.to_number<std::int64_t>());
    }
    if (sessions.is_array()) {
        return sessions.as_array().size();
    }
    return std::nullopt;
}

class DigipairCasesTest : public hub_test {
protected:
    void SetUp() override { start(); }

    /// POSTs one example file, untouched, to /api/v1/actions.
    http_response run_case(std::string_view name) {
        return http_request(hub(), "POST", "/api/v1/actions", digipair_case(name));
    }

    /// The result object of a one-pin document.
    static json::object result_of(const http_response& response) {
        EXPECT_EQ(response.status, 200) << response.body;
        json::value v = response.json();
        EXPECT_TRUE(v.is_object()) << "a single pin gives one result object: " << response.body;
        return v.is_object() ? v.as_object() : json::object{};
    }
};

TEST_F(DigipairCasesTest, RegisterSessionDeclaresTheConnectedSession) {
    auto stream = subscribe("/events?session=session_12345");

    json::object result = result_of(run_case("registerSession"));

    EXPECT_EQ(result["id"], "session_12345");
    EXPECT_EQ(result["connected"], true) << "a client is attached to session_12345";
    ASSERT_TRUE(result.contains("lastEventId")) << json::serialize(result);
    EXPECT_TRUE(result["lastEventId"].is_null() || result["lastEventId"].is_string());
}

TEST_F(DigipairCasesTest, RegisterSessionBeforeTheClientConnects) {
    json::object result = result_of(run_case("registerSession"));

    EXPECT_EQ(result["id"], "session_12345");
    EXPECT_EQ(result["connected"], false) << "no client has connected yet";
    EXPECT_TRUE(result.contains("lastEventId")) << json::serialize(result);

    // Either order is normal (DESIGN.md section 4): the client attaches to it afterwards.
    auto stream = subscribe("/events?session=session_12345");
    http_response sessions = http_request(hub(), "GET", "/api/v1/sessions");
    EXPECT_EQ(sessions.status, 200);
    EXPECT_TRUE(mentions(sessions.json(), "session_12345")) << sessions.body;
}

TEST_F(DigipairCasesTest, RegisterChannelAddsTheSession) {
    auto stream = subscribe("/events?session=session_12345");
    ASSERT_EQ(run_case("registerSession").status, 200);

    json::object result = result_of(run_case("registerChannel"));

    EXPECT_EQ(result["id"], "channel_abc");
    ASSERT_TRUE(result.contains("sessions")) << json::serialize(result);
    EXPECT_EQ(member_count(result["sessions"]), 1u) << json::serialize(result);

    http_response channel = http_request(hub(), "GET", "/api/v1/channels/channel_abc");
    EXPECT_EQ(channel.status, 200) << channel.body;
    EXPECT_TRUE(mentions(channel.json(), "session_12345")) << channel.body;
}

TEST_F(DigipairCasesTest, PushReachesTheSessionOfItsNamespace) {
    auto greeting = subscribe("/dp_001/greeting?session=session_12345");
    auto other_namespace = subscribe("/events?session=session_12345");

    json::object result = result_of(run_case("push"));

    EXPECT_EQ(result["delivered"], 1) << json::serialize(result);
    ASSERT_TRUE(result["eventId"].is_string()) << json::serialize(result);

    auto event = greeting->next_event(after(5s));
    ASSERT_TRUE(event) << "nothing received; body so far: " << greeting->body();
    EXPECT_TRUE(is_event(*event, "message", R"({"text":"Hello, world!"})"));
    EXPECT_EQ(event->id, std::string(result["eventId"].as_string()));

    // The session of the same id in the default namespace is another session.
    EXPECT_FALSE(other_namespace->next_event(after(300ms)));
}

TEST_F(DigipairCasesTest, BroadcastReachesTheChannelOfItsNamespace) {
    auto system = subscribe("/dp_001/system?channel=channel_abc");

    // Without `session` the hub generates an id and announces it in the first event.
    auto announcement = system->next_event(after(5s));
    ASSERT_TRUE(announcement) << "no announcement of the generated session id";
    json::value named = announcement->json();
    EXPECT_TRUE(named.is_object() || named.is_string()) << announcement->raw;
    EXPECT_TRUE(named.is_string() ? !named.as_string().empty()
                                  : std::any_of(named.as_object().begin(), named.as_object().end(),
                                                [](const json::key_value_pair& kv) {
                                                    return kv.value().is_string() &&
                                                           !kv.value().as_string().empty();
                                                }))
        << "the announcement's data names no session: " << announcement->raw;

    json::object result = result_of(run_case("broadcast"));

    EXPECT_EQ(result["delivered"], 1) << json::serialize(result);
    EXPECT_EQ(result["sessions"], 1) << json::serialize(result);
    ASSERT_TRUE(result["eventId"].is_string()) << json::serialize(result);

    auto event = system->next_event(after(5s));
    ASSERT_TRUE(event) << "nothing received; body so far: " << system->body();
    EXPECT_TRUE(is_event(*event, "update", R"({"text":"System update available"})"));
    EXPECT_EQ(event->id, std::string(result["eventId"].as_string()));
}

TEST_F(DigipairCasesTest, AllFourRunInTheDocumentedOrder) {
    auto session = subscribe("/events?session=session_12345");
    auto greeting = subscribe("/dp_001/greeting?session=session_12345");
    auto system = subscribe("/dp_001/system?channel=channel_abc");
    ASSERT_TRUE(system->next_event(after(5s))) << "no announcement of the generated session id";

    json::object registered = result_of(run_case("registerSession"));
    EXPECT_EQ(registered["id"], "session_12345");
    EXPECT_EQ(registered["connected"], true);

    json::object channel = result_of(run_case("registerChannel"));
    EXPECT_EQ(channel["id"], "channel_abc");
    EXPECT_EQ(member_count(channel["sessions"]), 1u) << json::serialize(channel);

    json::object pushed = result_of(run_case("push"));
    EXPECT_EQ(pushed["delivered"], 1) << json::serialize(pushed);

    json::object broadcast = result_of(run_case("broadcast"));
    EXPECT_EQ(broadcast["delivered"], 1) << json::serialize(broadcast);

    auto hello = greeting->next_event(after(5s));
    ASSERT_TRUE(hello);
    EXPECT_TRUE(is_event(*hello, "message", R"({"text":"Hello, world!"})"));

    auto update = system->next_event(after(5s));
    ASSERT_TRUE(update);
    EXPECT_TRUE(is_event(*update, "update", R"({"text":"System update available"})"));

    // session_12345 of the default namespace is in channel_abc of the default namespace;
    // neither example targets that namespace, so it receives nothing.
    EXPECT_FALSE(session->next_event(after(300ms)));
}

TEST_F(DigipairCasesTest, TheFourRunAsOneArrayInOrder) {
    auto greeting = subscribe("/dp_001/greeting?session=session_12345");
    std::string document = "[" + digipair_case("registerSession") + "," +
                           digipair_case("registerChannel") + "," + digipair_case("push") + "," +
                           digipair_case("broadcast") + "]";

    http_response response = http_request(hub(), "POST", "/api/v1/actions", document);

    ASSERT_EQ(response.status, 200) << response.body;
    json::value results = response.json();
    ASSERT_TRUE(results.is_array()) << response.body;
    ASSERT_EQ(results.as_array().size(), 4u) << response.body;
    EXPECT_EQ(results.at(0).at("id"), "session_12345");
    EXPECT_EQ(results.at(1).at("id"), "channel_abc");
    EXPECT_EQ(results.at(2).at("delivered"), 1);
    EXPECT_TRUE(results.at(3).as_object().contains("delivered")) << response.body;

    auto hello = greeting->next_event(after(5s));
    ASSERT_TRUE(hello);
    EXPECT_TRUE(is_event(*hello, "message", R"({"text":"Hello, world!"})"));
}

} // namespace
} // namespace ssehub::test
