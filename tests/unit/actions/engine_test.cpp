// SPDX-License-Identifier: Apache-2.0
#include "actions/engine.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <memory>
#include <ssehub/hub.hpp>
#include <sstream>

namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using ssehub::end_reason;
using ssehub::ended_session;
using ssehub::errc;
using ssehub::namespace_id;
using ssehub::actions::engine;
using ssehub::actions::engine_options;

std::filesystem::path digipair_dir() {
    if (const char* dir = std::getenv("SSEHUB_SHARED_DIR")) {
        return std::filesystem::path(dir) / "cases" / "digipair";
    }
    return std::filesystem::path(__FILE__).parent_path() / "../../../../shared/cases/digipair";
}

json::value example(const std::string& name) {
    std::ifstream in(digipair_dir() / (name + ".json"));
    EXPECT_TRUE(in) << "cannot read the Digipair example " << name;
    std::stringstream text;
    text << in.rdbuf();
    return json::parse(text.str());
}

// A connection that keeps what the hub delivers to it. Used on the test thread only, which
// is the only one running the shard's io_context.
class recording_sink : public ssehub::sink {
public:
    void opened() override { open = true; }

    void deliver(const ssehub::event_ptr& e) override { events.push_back(e->bytes); }

    void flush() override {}

    void close(end_reason why) override { closed = why; }

    bool open = false;
    std::vector<std::string> events;
    std::optional<end_reason> closed;
};

// One field of an encoded event (`event`, `id`, `data`), without its name.
std::string field(const std::string& bytes, std::string_view name) {
    std::istringstream lines(bytes);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.size() > name.size() && line.starts_with(name) && line[name.size()] == ':') {
            return line.substr(name.size() + 1);
        }
    }
    return {};
}

json::value data_of(const std::string& bytes) {
    return json::parse(field(bytes, "data"));
}

class EngineTest : public ::testing::Test {
protected:
    static ssehub::hub_options hub_options() {
        ssehub::hub_options o;
        o.session_grace = 0ms;
        return o;
    }

    // Runs what the hub posted to its shard: registrations and deliveries.
    void drain() {
        io_.restart();
        while (io_.poll() > 0) {
        }
    }

    std::shared_ptr<recording_sink> connect(const std::string& session,
                                            std::vector<std::string> channels = {},
                                            const namespace_id& ns = {}) {
        auto sink = std::make_shared<recording_sink>();
        ssehub::subscribe_request request;
        request.ns = ns;
        request.session = session;
        request.channels = std::move(channels);
        request.remote = "127.0.0.1";
        auto r = hub_.attach(request, sink, 0);
        EXPECT_TRUE(r) << (r ? "" : r.error().message);
        drain();
        return sink;
    }

    json::value run(const char* document, const namespace_id& ns = {}) {
        return run(json::parse(document), ns);
    }

    json::value run(const json::value& document, const namespace_id& ns = {}) {
        auto r = engine_.execute(document, ns);
        EXPECT_TRUE(r) << json::serialize(document) << ": " << (r ? "" : r.error().path) << ": "
                       << (r ? "" : r.error().message);
        drain();
        return r ? std::move(*r) : json::value();
    }

    ssehub::error fail(const std::string& document, const namespace_id& ns = {}) {
        auto r = engine_.execute(json::parse(document), ns);
        EXPECT_FALSE(r) << document << " ran";
        drain();
        return r ? ssehub::error{} : r.error();
    }

    // Runs every queued `disconnected` action: stop() drains the queue before it returns.
    void finish_actions() {
        engine_.stop();
        drain();
    }

    boost::asio::io_context io_;
    ssehub::hub hub_{hub_options(), {&io_}};
    engine engine_{hub_};
};

TEST_F(EngineTest, RunsTheFourDigipairExamplesVerbatim) {
    const namespace_id greeting{"", "dp_001", "greeting"};
    const auto client = connect("session_12345", {}, greeting);

    const auto session = run(example("registerSession"));
    EXPECT_EQ(session, json::parse(R"({"id":"session_12345","connected":false,)"
                                   R"("lastEventId":null})"));

    const auto channel = run(example("registerChannel"));
    EXPECT_EQ(channel, json::parse(R"({"id":"channel_abc","sessions":1})"));

    // The push names dp_001/greeting, where the client is connected (DESIGN.md section 2).
    const auto push = run(example("push"));
    EXPECT_EQ(push.at("delivered"), 1);
    EXPECT_TRUE(push.at("eventId").is_string());
    ASSERT_EQ(client->events.size(), 1u);
    EXPECT_EQ(field(client->events[0], "event"), "message");
    EXPECT_EQ(field(client->events[0], "data"), R"({"text":"Hello, world!"})");
    EXPECT_EQ(field(client->events[0], "id"), push.at("eventId").as_string());

    // dp_001/system has no channel_abc yet: channels are created on demand, so the event is
    // accepted into the new channel's history and reaches nobody.
    const auto broadcast = run(example("broadcast"));
    EXPECT_EQ(broadcast.at("delivered"), 0);
    EXPECT_EQ(broadcast.at("sessions"), 0);
    EXPECT_TRUE(broadcast.at("eventId").is_string());
    EXPECT_FALSE(broadcast.as_object().contains("warning"));
}

TEST_F(EngineTest, AnArrayGetsOneResultPerPinInOrder) {
    const auto client = connect("s1", {"room"});
    const auto results = run(R"([
        {"library":"@digipair/skill-sse","element":"registerSession","properties":{"id":"s1"}},
        {"library":"@digipair/skill-sse","element":"registerChannel",
         "properties":{"session":{"id":"s1"},"id":"room"}},
        {"library":"@digipair/skill-sse","element":"push","properties":{"id":"s1","message":1}},
        {"library":"@digipair/skill-sse","element":"broadcast",
         "properties":{"id":"room","event":"update","message":{"n":2}}},
        {"library":"ssehub","element":"log","properties":{"message":"done"}},
        {"type":"log","message":"also done"}
    ])");
    ASSERT_TRUE(results.is_array());
    const auto& r = results.as_array();
    ASSERT_EQ(r.size(), 6u);
    EXPECT_EQ(r[0].at("connected"), true);
    EXPECT_EQ(r[1], json::parse(R"({"id":"room","sessions":1})"));
    EXPECT_EQ(r[2].at("delivered"), 1);
    EXPECT_EQ(r[3].at("delivered"), 1);
    EXPECT_EQ(r[3].at("sessions"), 1);
    EXPECT_EQ(r[4], json::parse(R"({"logged":true})"));
    EXPECT_EQ(r[5], json::parse(R"({"logged":true})"));

    ASSERT_EQ(client->events.size(), 2u);
    EXPECT_EQ(field(client->events[1], "event"), "update");
    EXPECT_EQ(data_of(client->events[1]), json::parse(R"({"n":2})"));
}

// F04: pin [1] is invalid, so pin [0] must not run either.
TEST_F(EngineTest, AnInvalidPinStopsTheWholeArrayBeforeAnythingRuns) {
    const auto client = connect("s1", {"c"});
    for (const auto* bad :
         {R"("chat\ndata:injected\n\nevent:admin")", R"("chat\r")", R"("chat\u0000")"}) {
        const auto e = fail(std::string(R"([
            {"library":"@digipair/skill-sse","element":"registerSession","properties":{"id":"x"}},
            {"library":"@digipair/skill-sse","element":"broadcast",
             "properties":{"id":"c","message":{"m":1},"event":)") +
                            bad + "}}]");
        EXPECT_EQ(e.code, errc::bad_request);
        EXPECT_EQ(e.path, "[1].properties.event");
    }
    EXPECT_TRUE(client->events.empty());
    EXPECT_EQ(hub_.sessions({}).size(), 1u) << "pin [0] registered its session";
}

TEST_F(EngineTest, PushToAnUnknownSessionIsAResultNotAnError) {
    const auto r = run(R"({"library":"@digipair/skill-sse","element":"push",)"
                       R"("properties":{"id":"nobody","message":1}})");
    EXPECT_EQ(r.at("delivered"), 0);
    EXPECT_TRUE(r.at("eventId").is_null());
    EXPECT_TRUE(r.at("warning").is_string());
}

TEST_F(EngineTest, BroadcastWithoutIdReachesEverySessionOfTheNamespace) {
    const auto a = connect("a");
    const auto b = connect("b", {"room"});
    const auto other = connect("c", {}, {"", "dp", "r"});
    const auto r = run(R"({"library":"@digipair/skill-sse","element":"broadcast",)"
                       R"("properties":{"message":"all"}})");
    EXPECT_EQ(r.at("delivered"), 2);
    EXPECT_EQ(a->events.size(), 1u);
    EXPECT_EQ(b->events.size(), 1u);
    EXPECT_TRUE(other->events.empty());
}

TEST_F(EngineTest, APinsNamespaceReplacesTheDefaultButKeepsTheTenant) {
    const namespace_id request_ns{"acme", "", ""};
    run(R"({"library":"@digipair/skill-sse","element":"registerSession",)"
        R"("properties":{"id":"s1","digipair":"dp","reasoning":"r"}})",
        request_ns);
    EXPECT_EQ(hub_.sessions({"acme", "dp", "r"}).size(), 1u);
    EXPECT_TRUE(hub_.sessions({"", "dp", "r"}).empty());
    EXPECT_TRUE(hub_.sessions(request_ns).empty());

    // Without the properties, the pin acts in the request's namespace.
    run(R"({"library":"@digipair/skill-sse","element":"registerSession","properties":{"id":"s2"}})",
        request_ns);
    EXPECT_EQ(hub_.sessions(request_ns).size(), 1u);
}

TEST_F(EngineTest, CloseEndsASessionAndSaysWhetherThereWasOne) {
    run(R"({"library":"@digipair/skill-sse","element":"registerSession",)"
        R"("properties":{"id":"s1"}})");
    EXPECT_EQ(run(R"({"library":"ssehub","element":"close","properties":{"id":"s1"}})"),
              json::parse(R"({"closed":true})"));
    EXPECT_TRUE(hub_.sessions({}).empty());
    EXPECT_EQ(run(R"({"library":"ssehub","element":"close","properties":{"id":"s1"}})"),
              json::parse(R"({"closed":false})"));
}

TEST_F(EngineTest, LoneNoevalStringsAreSentLiterally) {
    const auto client = connect("s1");
    run(R"({"library":"@digipair/skill-sse","element":"push",)"
        R"("properties":{"id":"s1","message":{"html":"NOEVAL:{{x}}"}}})");
    ASSERT_EQ(client->events.size(), 1u);
    EXPECT_EQ(data_of(client->events[0]), json::parse(R"({"html":"{{x}}"})"));
}

// F03: a line break inside the message stays escaped on one `data:` line.
TEST_F(EngineTest, ALineBreakInTheMessageStaysOnOneDataLine) {
    const auto client = connect("s1");
    run(R"({"library":"@digipair/skill-sse","element":"push",)"
        R"("properties":{"id":"s1","message":{"html":"<pre>a\nb</pre>"}}})");
    ASSERT_EQ(client->events.size(), 1u);
    EXPECT_EQ(field(client->events[0], "data"), R"({"html":"<pre>a\nb</pre>"})");
}

TEST(EngineLimitTest, AHubErrorNamesThePinAndSaysWhatAlreadyRan) {
    boost::asio::io_context io;
    ssehub::hub_options options;
    options.sessions_per_namespace = 1;
    ssehub::hub hub(options, {&io});
    engine e(hub);

    auto r = e.execute(json::parse(R"([
        {"library":"@digipair/skill-sse","element":"registerSession","properties":{"id":"a"}},
        {"library":"@digipair/skill-sse","element":"registerSession","properties":{"id":"b"}}
    ])"),
                       {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::limit_exceeded);
    EXPECT_EQ(r.error().path, "[1].properties.id");
    EXPECT_NE(r.error().message.find("pin [0] has run"), std::string::npos) << r.error().message;
    EXPECT_EQ(hub.sessions({}).size(), 1u);
}

TEST_F(EngineTest, DisconnectedActionsRunWhenTheSessionEnds) {
    hub_.set_end_handler([this](ended_session s) { engine_.on_session_end(std::move(s)); });
    engine_.start();
    const auto observer = connect("watcher", {"room"});
    run(R"([
        {"library":"@digipair/skill-sse","element":"registerSession","properties":{"id":"s1",
         "disconnected":[{"library":"@digipair/skill-sse","element":"broadcast",
           "properties":{"id":"room","event":"left",
             "message":{"who":"{{session.id}}","why":"{{reason}}","ch":"<{{channel.id}}>",
                        "raw":"NOEVAL:{{session.id}}"}}}]}},
        {"library":"@digipair/skill-sse","element":"registerChannel",
         "properties":{"session":"s1","id":"room"}}
    ])");

    ASSERT_TRUE(hub_.kick({}, "s1"));
    finish_actions();

    EXPECT_EQ(engine_.stats().runs, 1u);
    EXPECT_EQ(engine_.stats().actions, 1u);
    EXPECT_EQ(engine_.stats().failures, 0u);
    ASSERT_EQ(observer->events.size(), 1u);
    EXPECT_EQ(field(observer->events[0], "event"), "left");
    EXPECT_EQ(data_of(observer->events[0]),
              json::parse(R"({"who":"s1","why":"kicked","ch":"<>","raw":"{{session.id}}"})"));
}

TEST_F(EngineTest, NotifyBroadcastsToEveryChannelTheSessionWasIn) {
    hub_.set_end_handler([this](ended_session s) { engine_.on_session_end(std::move(s)); });
    engine_.start();
    const auto in_abc = connect("other", {"channel_abc"});
    const auto in_b = connect("third", {"b"});
    const auto elsewhere = connect("fourth", {"unrelated"});

    // The documentation's registerSession example, verbatim, then two memberships.
    run(example("registerSession"));
    run(R"([
        {"library":"@digipair/skill-sse","element":"registerChannel",
         "properties":{"session":"session_12345","id":"channel_abc"}},
        {"library":"@digipair/skill-sse","element":"registerChannel",
         "properties":{"session":"session_12345","id":"b"}}
    ])");

    ASSERT_TRUE(hub_.kick({}, "session_12345"));
    finish_actions();

    EXPECT_EQ(engine_.stats().failures, 0u);
    for (const auto& sink : {in_abc, in_b}) {
        ASSERT_EQ(sink->events.size(), 1u);
        EXPECT_EQ(field(sink->events[0], "event"), "notify");
        EXPECT_EQ(field(sink->events[0], "data"), R"("Session disconnected")");
    }
    EXPECT_TRUE(elsewhere->events.empty());
}

// Fix 3: a channel's `disconnected` runs once for each member that leaves.
TEST_F(EngineTest, ChannelActionsRunOncePerDepartingMember) {
    hub_.set_end_handler([this](ended_session s) { engine_.on_session_end(std::move(s)); });
    engine_.start();
    const auto observer = connect("watcher", {"room"});
    run(R"([
        {"library":"@digipair/skill-sse","element":"registerChannel","properties":{"id":"room",
         "disconnected":[{"library":"@digipair/skill-sse","element":"broadcast",
           "properties":{"id":"{{channel.id}}","message":{"gone":"{{session.id}}"}}},
           {"type":"log","message":"Channel disconnected"}]}},
        {"library":"@digipair/skill-sse","element":"registerChannel",
         "properties":{"session":"a","id":"room"}},
        {"library":"@digipair/skill-sse","element":"registerChannel",
         "properties":{"session":"b","id":"room"}}
    ])");

    ASSERT_TRUE(hub_.kick({}, "a"));
    ASSERT_TRUE(hub_.kick({}, "b"));
    finish_actions();

    EXPECT_EQ(engine_.stats().runs, 2u);
    EXPECT_EQ(engine_.stats().actions, 4u);
    EXPECT_EQ(engine_.stats().failures, 0u);
    ASSERT_EQ(observer->events.size(), 2u);
    EXPECT_EQ(data_of(observer->events[0]), json::parse(R"({"gone":"a"})"));
    EXPECT_EQ(data_of(observer->events[1]), json::parse(R"({"gone":"b"})"));
}

ended_session ending(std::string id, json::value actions) {
    ended_session s;
    s.id = std::move(id);
    s.reason = end_reason::client_closed;
    s.actions = std::move(actions);
    return s;
}

// Fix 4: a failing action is counted and logged with its path, and the next one runs.
TEST_F(EngineTest, AFailingActionDoesNotStopTheNextOne) {
    const auto observer = connect("watcher");
    engine_.start();

    // `{{channel.id}}` is empty in a session's own list, so pin [0] has no session to push to.
    engine_.on_session_end(ending("s1", json::parse(R"([
        {"library":"@digipair/skill-sse","element":"push",
         "properties":{"id":"{{channel.id}}","message":1}},
        {"library":"@digipair/skill-sse","element":"push",
         "properties":{"id":"watcher","message":"{{session.id}} {{reason}}"}}
    ])")));
    finish_actions();

    EXPECT_EQ(engine_.stats().actions, 2u);
    EXPECT_EQ(engine_.stats().failures, 1u);
    ASSERT_EQ(observer->events.size(), 1u);
    EXPECT_EQ(data_of(observer->events[0]), json::value("s1 client_closed"));
}

TEST_F(EngineTest, AChannelListSeesItsChannelId) {
    const auto observer = connect("watcher");
    engine_.start();
    auto s = ending("s1", nullptr);
    s.channels = {"room"};
    s.channel_end.push_back({"room", json::parse(R"([{"library":"@digipair/skill-sse",
        "element":"push","properties":{"id":"watcher","message":"{{channel.id}}"}}])")});
    engine_.on_session_end(std::move(s));
    finish_actions();

    ASSERT_EQ(observer->events.size(), 1u);
    EXPECT_EQ(data_of(observer->events[0]), json::value("room"));
}

TEST_F(EngineTest, ASessionWithoutActionsIsNotQueued) {
    engine_.on_session_end(ending("s1", nullptr));
    engine_.on_session_end(ending("s2", json::array{}));
    EXPECT_EQ(engine_.stats().pending, 0u);
    engine_.start();
    finish_actions();
    EXPECT_EQ(engine_.stats().runs, 0u);
    EXPECT_EQ(engine_.stats().dropped, 0u);
}

TEST(EngineQueueTest, PastTheQueueLimitRunsAreDroppedAndCounted) {
    boost::asio::io_context io;
    ssehub::hub hub(ssehub::hub_options{}, {&io});
    engine e(hub, engine_options{2, 1000ms, {}, {}});

    const auto log = json::parse(R"([{"type":"log","message":"bye"}])");
    for (const auto* id : {"a", "b", "c"}) {
        e.on_session_end(ending(id, log));
    }
    EXPECT_EQ(e.stats().pending, 2u);
    EXPECT_EQ(e.stats().dropped, 1u);

    // Runs queued before start() run once it starts.
    e.start();
    e.stop();
    EXPECT_EQ(e.stats().runs, 2u);
    EXPECT_EQ(e.stats().pending, 0u);

    e.on_session_end(ending("d", log));
    EXPECT_EQ(e.stats().dropped, 2u) << "a run after stop() is dropped";
}

TEST(EngineQueueTest, StopBeforeStartDropsWhatWasQueued) {
    boost::asio::io_context io;
    ssehub::hub hub(ssehub::hub_options{}, {&io});
    engine e(hub);
    e.on_session_end(ending("a", json::parse(R"([{"type":"log","message":"bye"}])")));
    e.stop();
    EXPECT_EQ(e.stats().runs, 0u);
    EXPECT_EQ(e.stats().dropped, 1u);
    EXPECT_EQ(e.stats().pending, 0u);
}

// Past the stop deadline the rest of the queue is dropped: however the race between the
// runner and stop() falls, every queued run is either run or counted as dropped.
TEST(EngineQueueTest, StopPastItsDeadlineCountsEveryRunOnce) {
    boost::asio::io_context io;
    ssehub::hub hub(ssehub::hub_options{}, {&io});
    engine e(hub, engine_options{100'000, 0ms, {}, {}});

    constexpr std::uint64_t total = 5'000;
    const auto quiet = json::parse(R"([{"library":"ssehub","element":"log",)"
                                   R"("properties":{"message":"bye","level":"trace"}}])");
    for (std::uint64_t i = 0; i < total; ++i) {
        e.on_session_end(ending("s" + std::to_string(i), quiet));
    }
    e.start();
    e.stop();

    EXPECT_EQ(e.stats().runs + e.stats().dropped, total);
    EXPECT_EQ(e.stats().pending, 0u);
}

// An action that ends another session queues that session's run from the runner's own
// thread; stop() still drains it.
TEST_F(EngineTest, AnActionThatEndsAnotherSessionQueuesItsRunToo) {
    hub_.set_end_handler([this](ended_session s) { engine_.on_session_end(std::move(s)); });
    engine_.start();
    const auto observer = connect("watcher");
    run(R"([
        {"library":"@digipair/skill-sse","element":"registerSession","properties":{"id":"b",
         "disconnected":[{"library":"@digipair/skill-sse","element":"push",
           "properties":{"id":"watcher","message":"b ended: {{reason}}"}}]}},
        {"library":"@digipair/skill-sse","element":"registerSession","properties":{"id":"a",
         "disconnected":[{"library":"ssehub","element":"close","properties":{"id":"b"}}]}}
    ])");

    ASSERT_TRUE(hub_.kick({}, "a"));
    finish_actions();

    EXPECT_EQ(engine_.stats().runs, 2u);
    EXPECT_EQ(engine_.stats().failures, 0u);
    ASSERT_EQ(observer->events.size(), 1u);
    EXPECT_EQ(data_of(observer->events[0]), json::value("b ended: kicked"));
}

} // namespace

// conditions.each in a request: one push per item, the item in the template; the pin's
// result is the array of the runs' results, and an empty list runs nothing.
TEST_F(EngineTest, EachRunsThePinOncePerItem) {
    const auto a = connect("a");
    const auto b = connect("b");
    const auto results = run(R"([
        {"library":"@digipair/skill-sse","element":"push",
         "properties":{"id":"{{item.to}}","message":{"hello":"{{item.to}}","n":"{{item.n}}"}},
         "conditions":{"each":[{"to":"a","n":1},{"to":"b","n":2},{"to":"a","n":3}]}},
        {"library":"@digipair/skill-sse","element":"push","properties":{"id":"a","message":0},
         "conditions":{"each":[]}}
    ])");
    ASSERT_EQ(results.as_array().size(), 2u);
    const auto& runs = results.as_array()[0].as_array();
    ASSERT_EQ(runs.size(), 3u);
    for (const auto& r : runs) {
        EXPECT_EQ(r.at("delivered"), 1);
    }
    EXPECT_EQ(results.as_array()[1], json::array{}) << "an empty list runs nothing";

    ASSERT_EQ(a->events.size(), 2u);
    EXPECT_EQ(data_of(a->events[0]), json::parse(R"({"hello":"a","n":"1"})"));
    EXPECT_EQ(data_of(a->events[1]), json::parse(R"({"hello":"a","n":"3"})"));
    ASSERT_EQ(b->events.size(), 1u);
    EXPECT_EQ(data_of(b->events[0]), json::parse(R"({"hello":"b","n":"2"})"));
}

// `previous` is the result of the pin before it in the same list: here registerChannel's
// `{id, sessions}` names the channel the broadcast goes to, and each iterates a result.
TEST_F(EngineTest, PreviousIsTheResultOfThePriorPin) {
    const auto client = connect("s1");
    const auto results = run(R"([
        {"library":"@digipair/skill-sse","element":"registerChannel",
         "properties":{"session":"s1","id":"room-7"}},
        {"library":"@digipair/skill-sse","element":"broadcast",
         "properties":{"id":"{{previous.id}}",
                       "message":"{{previous.sessions}} in {{previous.id}}"}},
        {"library":"@digipair/skill-sse","element":"push",
         "properties":{"id":"s1","message":"after {{previous.delivered}}"}}
    ])");
    ASSERT_EQ(results.as_array().size(), 3u);
    EXPECT_EQ(results.as_array()[1].at("delivered"), 1);
    ASSERT_EQ(client->events.size(), 2u);
    EXPECT_EQ(data_of(client->events[0]), json::value("1 in room-7"));
    EXPECT_EQ(data_of(client->events[1]), json::value("after 1"));

    // A lone pin has no prior pin: previous renders as "".
    const auto lone = run(R"({"library":"@digipair/skill-sse","element":"push",
        "properties":{"id":"s1","message":"<{{previous.id}}>"}})");
    EXPECT_EQ(lone.at("delivered"), 1);
    ASSERT_EQ(client->events.size(), 3u);
    EXPECT_EQ(data_of(client->events[2]), json::value("<>"));
}

// In a disconnected list, each and previous work as in a request, with the session's end
// in the context; a failed pin leaves previous null for the next one.
TEST_F(EngineTest, DisconnectedListsIterateAndSeeThePreviousResult) {
    const auto w1 = connect("w1");
    const auto w2 = connect("w2");
    engine_.start();
    engine_.on_session_end(ending("s1", json::parse(R"([
        {"library":"@digipair/skill-sse","element":"registerChannel",
         "properties":{"session":"w1","id":"watchers"}},
        {"library":"@digipair/skill-sse","element":"push",
         "properties":{"id":"{{item}}",
                       "message":"{{session.id}} left ({{reason}}), {{previous.id}}"},
         "conditions":{"each":["w1","w2"]}},
        {"library":"@digipair/skill-sse","element":"push",
         "properties":{"id":"w1","message":"{{previous}}"},
         "conditions":{"each":"{{previous}}","if":"{{item.delivered}}"}},
        {"library":"@digipair/skill-sse","element":"push","properties":{"id":"nobody\u0001",
         "message":1}},
        {"library":"@digipair/skill-sse","element":"push",
         "properties":{"id":"w2","message":"<{{previous}}>"}}
    ])")));
    finish_actions();

    EXPECT_EQ(engine_.stats().actions, 5u);
    EXPECT_EQ(engine_.stats().failures, 1u) << "the bad id fails alone";
    ASSERT_EQ(w1->events.size(), 3u);
    EXPECT_EQ(data_of(w1->events[0]), json::value("s1 left (client_closed), watchers"));
    ASSERT_EQ(w2->events.size(), 2u);
    EXPECT_EQ(data_of(w2->events[0]), json::value("s1 left (client_closed), watchers"));
    EXPECT_EQ(data_of(w2->events[1]), json::value("<>")) << "a failed pin leaves previous null";
}
