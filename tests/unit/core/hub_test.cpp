// SPDX-License-Identifier: Apache-2.0
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>
#include <future>
#include <gtest/gtest.h>
#include <limits>
#include <mutex>
#include <ssehub/hub.hpp>
#include <thread>

namespace ssehub {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// A sink that records what the hub hands it. Touched on its shard's thread only, except
// where a test reads it after joining that thread.
struct recording_sink : sink {
    void opened() override { is_open = true; }

    void deliver(const event_ptr& e) override {
        bytes.push_back(e->bytes);
        seqs.push_back(e->seq);
    }

    void flush() override { ++flushes; }

    void close(end_reason why) override {
        closed = true;
        reason = why;
    }

    std::vector<std::string> bytes;
    std::vector<std::uint64_t> seqs;
    bool is_open = false;
    bool closed = false;
    end_reason reason = end_reason::client_closed;
    int flushes = 0;
};

class HubTest : public ::testing::Test {
protected:
    explicit HubTest(hub_options o = {}) : hub_(with_defaults(o), {&ioc_}) {
        hub_.set_end_handler([this](ended_session s) { ended_.push_back(std::move(s)); });
    }

    static hub_options with_defaults(hub_options o) {
        o.session_grace = 0ms;
        return o;
    }

    struct attached {
        std::shared_ptr<recording_sink> sink;
        attachment a;
    };

    attached open(std::optional<std::string> session, std::vector<std::string> channels = {},
                  namespace_id ns = {}, std::optional<std::string> last = {}) {
        subscribe_request req;
        req.ns = std::move(ns);
        req.session = std::move(session);
        req.channels = std::move(channels);
        req.last_event_id = std::move(last);
        req.remote = "127.0.0.1:1";
        auto s = std::make_shared<recording_sink>();
        auto r = hub_.attach(req, s, 0);
        EXPECT_TRUE(r) << (r ? "" : r.error().message);
        settle();
        return {s, r ? *r : attachment{}};
    }

    void settle() {
        ioc_.restart();
        ioc_.poll();
    }

    boost::asio::io_context ioc_;
    hub hub_;
    std::vector<ended_session> ended_;
};

TEST_F(HubTest, PushReachesTheAttachedSessionOnce) {
    auto c = open("s1");
    EXPECT_TRUE(c.sink->is_open);

    auto r = hub_.push({}, "s1", json::parse(R"({"a":1})"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->delivered, 1u);
    ASSERT_TRUE(r->event_id);
    settle();

    ASSERT_EQ(c.sink->bytes.size(), 1u);
    EXPECT_EQ(c.sink->bytes[0], "event:message\nid:" + *r->event_id + "\ndata:{\"a\":1}\n\n");
    EXPECT_GE(c.sink->flushes, 1);
}

TEST_F(HubTest, PushToAnUnknownSessionIsAResultNotAnError) {
    auto r = hub_.push({}, "nobody", json::value(1));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->delivered, 0u);
    EXPECT_FALSE(r->event_id);
    EXPECT_FALSE(r->warning.empty());
}

TEST_F(HubTest, PushRefusesBadEventNamesAndChangesNothing) {
    auto c = open("s1");
    auto r = hub_.push({}, "s1", json::value(1), "chat\ndata:x");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().path, "event");
    settle();
    EXPECT_TRUE(c.sink->bytes.empty());
}

TEST_F(HubTest, MessageOverTheLimitIsRefused) {
    hub_options o;
    o.message_limit = 10;
    boost::asio::io_context ioc;
    hub small(o, {&ioc});
    ASSERT_TRUE(small.register_session({}, "s1"));
    auto r = small.push({}, "s1", json::value("0123456789"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::payload_too_large);
}

TEST_F(HubTest, BroadcastReachesEveryMemberWithOneSharedBuffer) {
    auto a = open("a", {"room"});
    auto b = open("b", {"room"});
    auto c = open("c", {"other"});

    auto r = hub_.broadcast({}, "room", json::parse(R"({"t":"hi"})"), "update");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->delivered, 2u);
    EXPECT_EQ(r->sessions, 2u);
    settle();

    ASSERT_EQ(a.sink->bytes.size(), 1u);
    ASSERT_EQ(b.sink->bytes.size(), 1u);
    EXPECT_TRUE(c.sink->bytes.empty());
    EXPECT_EQ(a.sink->bytes[0].substr(0, 13), "event:update\n");
}

// A fan-out to many connections must not hold its thread until the last write started:
// a publish request ready on the same thread would wait for all of them (issue 5, target 4).
TEST_F(HubTest, FanOutWritesYieldTheThreadBetweenSlices) {
    constexpr int members = 1000;
    std::vector<std::shared_ptr<recording_sink>> sinks;
    for (int i = 0; i < members; ++i) {
        sinks.push_back(open("m" + std::to_string(i), {"wide"}).sink);
    }
    const auto flushed = [&] {
        int n = 0;
        for (const auto& s : sinks) {
            n += s->flushes;
        }
        return n;
    };

    ASSERT_TRUE(hub_.broadcast({}, "wide", json::parse(R"({"n":1})")));
    int flushed_when_other_work_ran = -1;
    boost::asio::post(ioc_, [&] { flushed_when_other_work_ran = flushed(); });
    settle();

    EXPECT_GT(flushed_when_other_work_ran, 0);
    EXPECT_LT(flushed_when_other_work_ran, members);
    for (const auto& s : sinks) {
        ASSERT_EQ(s->bytes.size(), 1u);
        EXPECT_EQ(s->flushes, 1);
    }
}

// An event that arrives while the previous one's writes are still going out joins the
// same write for every connection whose slice has not come yet.
TEST_F(HubTest, EventsForAConnectionWaitingForItsSliceLeaveInOneWrite) {
    constexpr int members = 1000;
    std::vector<std::shared_ptr<recording_sink>> sinks;
    for (int i = 0; i < members; ++i) {
        sinks.push_back(open("w" + std::to_string(i), {"wide"}).sink);
    }
    ASSERT_TRUE(hub_.broadcast({}, "wide", json::parse(R"({"n":1})")));
    ioc_.restart();
    ioc_.run_one(); // the first slice
    ASSERT_TRUE(hub_.broadcast({}, "wide", json::parse(R"({"n":2})")));
    settle();

    int flushed_once = 0;
    for (const auto& s : sinks) {
        ASSERT_EQ(s->bytes.size(), 2u);
        EXPECT_LT(s->seqs[0], s->seqs[1]);
        EXPECT_GE(s->flushes, 1);
        EXPECT_LE(s->flushes, 2);
        flushed_once += s->flushes == 1 ? 1 : 0;
    }
    EXPECT_GT(flushed_once, members / 2);
}

// A connection that leaves while its write waits for its slice is skipped, and the others
// are still flushed once.
TEST_F(HubTest, AConnectionLeavingBeforeItsSliceIsSkipped) {
    constexpr int members = 600;
    std::vector<attached> all;
    for (int i = 0; i < members; ++i) {
        all.push_back(open("l" + std::to_string(i), {"wide"}));
    }
    ASSERT_TRUE(hub_.broadcast({}, "wide", json::parse(R"({"n":1})")));

    // The first slice runs, then the last connection goes before its own slice.
    ioc_.restart();
    ioc_.run_one();
    ASSERT_EQ(all.back().sink->flushes, 0);
    hub_.detached(all.back().a.token, end_reason::client_closed);
    settle();

    for (int i = 0; i + 1 < members; ++i) {
        EXPECT_EQ(all[static_cast<std::size_t>(i)].sink->flushes, 1) << i;
    }
    EXPECT_EQ(all.back().sink->flushes, 0);
}

TEST_F(HubTest, DefaultChannelReachesEverySessionOfTheNamespaceOnly) {
    auto a = open("a");
    auto b = open("b", {"room"});
    auto x = open("x", {}, namespace_id{"", "dp", "r"});

    auto r = hub_.broadcast({}, "", json::value(1));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->delivered, 2u);
    settle();
    EXPECT_EQ(a.sink->bytes.size(), 1u);
    EXPECT_EQ(b.sink->bytes.size(), 1u);
    EXPECT_TRUE(x.sink->bytes.empty());
}

TEST_F(HubTest, NamespacesNeverSeeEachOther) {
    const namespace_id dp{"", "dp_001", "greeting"};
    auto plain = open("session_12345");
    auto scoped = open("session_12345", {}, dp);

    ASSERT_TRUE(hub_.push(dp, "session_12345", json::value("hello")));
    settle();
    EXPECT_TRUE(plain.sink->bytes.empty());
    EXPECT_EQ(scoped.sink->bytes.size(), 1u);
    EXPECT_FALSE(scoped.sink->closed); // different namespaces: no replacement
}

TEST_F(HubTest, ReconnectReplacesAndTheOldEndingChangesNothing) {
    auto first = open("s1");
    auto second = open("s1");
    EXPECT_TRUE(first.sink->closed);
    EXPECT_EQ(first.sink->reason, end_reason::replaced);

    // The old connection reports its end late: the session stays with the new one (fix 2).
    hub_.detached(first.a.token, end_reason::client_closed);
    EXPECT_TRUE(ended_.empty());

    ASSERT_TRUE(hub_.push({}, "s1", json::value(1)));
    settle();
    EXPECT_TRUE(first.sink->bytes.empty());
    EXPECT_EQ(second.sink->bytes.size(), 1u);
    ASSERT_EQ(hub_.sessions({}).size(), 1u);
    EXPECT_TRUE(hub_.sessions({})[0].connected);
    EXPECT_EQ(hub_.stats().replacements.load(), 1u);
}

TEST_F(HubTest, DetachWithoutGraceEndsTheSessionOnceWithItsActions) {
    auto c = open("s1", {"room"});
    ASSERT_TRUE(hub_.register_session({}, "s1", json::parse(R"([{"type":"log","message":"x"}])")));
    ASSERT_TRUE(hub_.register_channel({}, "room", std::nullopt,
                                      json::parse(R"([{"type":"log","message":"y"}])")));

    hub_.detached(c.a.token, end_reason::client_closed);
    hub_.detached(c.a.token, end_reason::client_closed); // a second report is ignored

    ASSERT_EQ(ended_.size(), 1u);
    EXPECT_EQ(ended_[0].id, "s1");
    EXPECT_EQ(ended_[0].reason, end_reason::client_closed);
    EXPECT_TRUE(ended_[0].actions.is_array());
    ASSERT_EQ(ended_[0].channel_end.size(), 1u);
    EXPECT_EQ(ended_[0].channel_end[0].id, "room");
    EXPECT_EQ(ended_[0].channels, std::vector<std::string>{"room"});
    EXPECT_TRUE(hub_.sessions({}).empty());

    auto r = hub_.push({}, "s1", json::value(1));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->delivered, 0u);
}

TEST_F(HubTest, KickClosesTheStreamAndEndsTheSession) {
    auto c = open("s1");
    ASSERT_TRUE(hub_.kick({}, "s1"));
    settle();
    EXPECT_TRUE(c.sink->closed);
    EXPECT_EQ(c.sink->reason, end_reason::kicked);
    ASSERT_EQ(ended_.size(), 1u);
    EXPECT_EQ(ended_[0].reason, end_reason::kicked);

    hub_.detached(c.a.token, end_reason::kicked); // the sink's own report: nothing more
    EXPECT_EQ(ended_.size(), 1u);
    EXPECT_EQ(hub_.kick({}, "s1").error().code, errc::not_found);
}

TEST_F(HubTest, JoinAndLeaveTakeEffectAtOnce) {
    auto c = open("s1");
    ASSERT_TRUE(hub_.join({}, "a", "s1"));
    settle();
    ASSERT_TRUE(hub_.broadcast({}, "a", json::value(1)));
    settle();
    EXPECT_EQ(c.sink->bytes.size(), 1u);

    ASSERT_TRUE(hub_.leave({}, "a", "s1"));
    EXPECT_TRUE(hub_.channel({}, "a")->sessions.empty());
    auto r = hub_.broadcast({}, "a", json::value(2));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->delivered, 0u);
    settle();
    EXPECT_EQ(c.sink->bytes.size(), 1u);
    EXPECT_TRUE(ended_.empty());
}

TEST_F(HubTest, JoinNeedsAKnownSession) {
    EXPECT_EQ(hub_.join({}, "a", "ghost").error().code, errc::not_found);
    EXPECT_EQ(hub_.leave({}, "a", "ghost").error().code, errc::not_found);
}

TEST_F(HubTest, ChannelLimitRefusesTheStreamAndChangesNothing) {
    std::vector<std::string> many;
    for (int i = 0; i < 65; ++i) {
        many.push_back("c" + std::to_string(i));
    }
    subscribe_request req;
    req.session = "s1";
    req.channels = many;
    auto r = hub_.attach(req, std::make_shared<recording_sink>(), 0);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::limit_exceeded);
    EXPECT_EQ(r.error().path, "channel");
    EXPECT_TRUE(hub_.sessions({}).empty());
    EXPECT_TRUE(hub_.channels({}).empty());
}

TEST_F(HubTest, InvalidIdsAreRefusedWithTheirPath) {
    subscribe_request req;
    req.session = "a\nb";
    auto r = hub_.attach(req, std::make_shared<recording_sink>(), 0);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().path, "session");

    req.session = "ok";
    req.channels = {std::string("b\r")};
    r = hub_.attach(req, std::make_shared<recording_sink>(), 0);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().path, "channel");
    EXPECT_TRUE(hub_.sessions({}).empty());
}

TEST_F(HubTest, GeneratedSessionIdsAreUnguessable) {
    auto a = open(std::nullopt);
    auto b = open(std::nullopt);
    EXPECT_TRUE(a.a.generated_id);
    EXPECT_EQ(a.a.session.size(), 32u);
    EXPECT_NE(a.a.session, b.a.session);
    EXPECT_FALSE(a.a.cursor.empty());
}

TEST_F(HubTest, ResumeReplaysMissedEventsOfEveryStreamInOrder) {
    auto c = open("s1", {"room"});
    auto first = hub_.broadcast({}, "room", json::value(1));
    hub_.detached(c.a.token, end_reason::client_closed);

    // Pushes to an ended session are lost with it; channel history survives.
    ASSERT_TRUE(hub_.register_session({}, "s1"));
    ASSERT_TRUE(hub_.join({}, "room", "s1"));
    ASSERT_TRUE(hub_.broadcast({}, "room", json::value(2)));
    ASSERT_TRUE(hub_.push({}, "s1", json::value(3)));
    ASSERT_TRUE(hub_.broadcast({}, "", json::value(4)));

    auto again = open("s1", {"room"}, {}, *first->event_id);
    settle();
    ASSERT_EQ(again.sink->seqs.size(), 3u);
    EXPECT_TRUE(std::is_sorted(again.sink->seqs.begin(), again.sink->seqs.end()));
    EXPECT_EQ(again.sink->bytes[0].substr(again.sink->bytes[0].size() - 3), "2\n\n");
}

TEST_F(HubTest, ResumeBeyondTheHistorySaysGapFirst) {
    hub_options o;
    o.channel_history_events = 3;
    o.session_grace = 0ms;
    boost::asio::io_context ioc;
    hub h(o, {&ioc});
    ASSERT_TRUE(h.register_channel({}, "c", std::string_view("s0")));
    std::vector<std::string> ids;
    for (int i = 0; i < 6; ++i) {
        ids.push_back(*h.broadcast({}, "c", json::value(i))->event_id);
    }

    auto resume = [&](std::string last) {
        subscribe_request req;
        req.session = "s0";
        req.channels = {"c"};
        req.last_event_id = std::move(last);
        auto s = std::make_shared<recording_sink>();
        auto a = h.attach(req, s, 0);
        EXPECT_TRUE(a);
        ioc.restart();
        ioc.poll();
        h.detached(a->token, end_reason::client_closed);
        ioc.restart();
        ioc.poll();
        EXPECT_TRUE(h.register_channel({}, "c", std::string_view("s0")));
        return s->bytes;
    };

    // Lost nothing: exactly the missed events, no gap.
    auto fine = resume(ids[3]);
    ASSERT_EQ(fine.size(), 2u);
    EXPECT_EQ(fine[0].rfind("event:message\n", 0), 0u);

    // Older than the ring: gap naming the channel, then the 3 retained.
    auto old = resume(ids[0]);
    ASSERT_EQ(old.size(), 4u);
    EXPECT_EQ(old[0].rfind("event:gap\n", 0), 0u);
    EXPECT_NE(old[0].find(R"({"type":"channel","id":"c"})"), std::string::npos);
    EXPECT_NE(old[0].find(R"("reason":"expired")"), std::string::npos);

    // Unreadable and foreign ids: gap, never a crash, never another stream's events.
    for (std::string bad :
         {std::string("does-not-exist"), std::string("zzzzzz-3"), std::string("\xff\x00", 2)}) {
        auto got = resume(bad);
        ASSERT_FALSE(got.empty()) << bad;
        EXPECT_EQ(got[0].rfind("event:gap\n", 0), 0u) << bad;
    }
    EXPECT_EQ(h.stats().gaps.load(), 4u);
}

// history.max_bytes: the budget evicts the oldest events of any stream, and a resume that
// needed them is told with `gap` rather than given a partial history as if complete.
TEST_F(HubTest, HistoryBudgetEvictsOldestFirstAndResumeSaysGap) {
    hub_options o;
    o.session_grace = 0ms;
    o.history_max_bytes = 4096;
    boost::asio::io_context ioc;
    hub h(o, {&ioc});
    ASSERT_TRUE(h.register_channel({}, "a", std::string_view("s0")));
    ASSERT_TRUE(h.register_channel({}, "b", std::string_view("s0")));
    std::vector<std::string> ids;
    const std::string pad(200, 'x');
    for (int i = 0; i < 40; ++i) {
        ids.push_back(*h.broadcast({}, i % 2 == 0 ? "a" : "b", json::value(pad))->event_id);
        EXPECT_LE(h.stats().history_bytes.load(), 4096u);
    }
    EXPECT_GT(h.stats().history_evictions.load(), 0u);

    subscribe_request req;
    req.session = "s0";
    req.last_event_id = ids[0];
    auto s = std::make_shared<recording_sink>();
    ASSERT_TRUE(h.attach(req, s, 0));
    ioc.poll();
    ASSERT_FALSE(s->bytes.empty());
    EXPECT_EQ(s->bytes[0].rfind("event:gap\n", 0), 0u);
    EXPECT_NE(s->bytes[0].find(R"({"type":"channel","id":"a"})"), std::string::npos);
    EXPECT_NE(s->bytes[0].find(R"({"type":"channel","id":"b"})"), std::string::npos);
    EXPECT_TRUE(std::is_sorted(s->seqs.begin() + 1, s->seqs.end()));
    EXPECT_EQ(s->seqs.back(), 40u);
}

// A session that ended took its stream's events with it: a client that comes back with an
// id older than them is told with `gap`; one that had seen them all is not.
TEST_F(HubTest, ResumeAfterTheSessionEndedSaysWhatItsStreamLost) {
    auto c = open("s1");
    auto seen = hub_.push({}, "s1", json::value(1));
    auto unseen = hub_.push({}, "s1", json::value(2)); // queued, never read: the client is cut
    hub_.detached(c.a.token, end_reason::client_closed);
    ASSERT_EQ(ended_.size(), 1u);

    auto behind = open("s1", {}, {}, *seen->event_id);
    ASSERT_EQ(behind.sink->bytes.size(), 1u);
    EXPECT_EQ(behind.sink->bytes[0].rfind("event:gap\n", 0), 0u);
    EXPECT_NE(behind.sink->bytes[0].find(R"({"type":"session","id":"s1"})"), std::string::npos);
    hub_.detached(behind.a.token, end_reason::client_closed);

    auto current = open("s1", {}, {}, *unseen->event_id);
    EXPECT_TRUE(current.sink->bytes.empty());
}

TEST_F(HubTest, NoResumeIdMeansNoHistory) {
    ASSERT_TRUE(hub_.register_session({}, "s1"));
    ASSERT_TRUE(hub_.push({}, "s1", json::value(1)));
    auto c = open("s1");
    settle();
    EXPECT_TRUE(c.sink->bytes.empty());
}

TEST_F(HubTest, EmptyChannelsGoOnceTheirHistoryExpires) {
    hub_options o;
    o.channel_history_age = 0ms;
    o.session_grace = 0ms;
    boost::asio::io_context ioc;
    hub h(o, {&ioc});
    subscribe_request req;
    req.session = "t1";
    req.channels = {"tmp"};
    auto s = std::make_shared<recording_sink>();
    auto a = h.attach(req, s, 0);
    ASSERT_TRUE(a);
    ioc.poll();
    ASSERT_TRUE(h.broadcast({}, "tmp", json::value(1)));
    h.detached(a->token, end_reason::client_closed);
    std::this_thread::sleep_for(2ms);
    h.sweep();
    EXPECT_EQ(h.channel({}, "tmp").error().code, errc::not_found);
    EXPECT_EQ(h.stats().channels.load(), 0);
    EXPECT_EQ(h.stats().sessions.load(), 0);
}

// F09: channels are created on demand; a broadcast nobody follows yet is still kept.
TEST_F(HubTest, BroadcastToAnUnknownChannelCreatesItWithTheEvent) {
    auto r = hub_.broadcast({}, "later", json::value(1));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->delivered, 0u);
    EXPECT_EQ(r->sessions, 0u);
    EXPECT_TRUE(r->event_id);
    EXPECT_TRUE(r->warning.empty());
    EXPECT_TRUE(hub_.channel({}, "later"));
}

// F16 and F26: a channel its last member left stays known, empty, until its history expires.
TEST_F(HubTest, AnEmptyChannelStaysUntilItsHistoryAgePasses) {
    hub_options o;
    o.channel_history_age = 1h;
    boost::asio::io_context ioc;
    hub h(o, {&ioc});
    ASSERT_TRUE(h.register_session({}, "s1"));
    ASSERT_TRUE(h.join({}, "a", "s1"));
    ASSERT_TRUE(h.leave({}, "a", "s1"));
    h.sweep();
    auto kept = h.channel({}, "a");
    ASSERT_TRUE(kept);
    EXPECT_TRUE(kept->sessions.empty());
    EXPECT_EQ(h.stats().channels.load(), 2); // the default channel and `a`
}

// 1e999 parses as infinity; Boost.JSON would write it as `Infinity`, which is not JSON.
TEST_F(HubTest, NumbersJsonCannotWriteAreRefused) {
    auto c = open("s1");
    const auto inf = std::numeric_limits<double>::infinity();
    auto pushed = hub_.push({}, "s1", json::value{{"a", json::array{1, inf}}});
    ASSERT_FALSE(pushed);
    EXPECT_EQ(pushed.error().code, errc::bad_request);
    EXPECT_EQ(pushed.error().path, "message.a[1]");
    auto sent = hub_.broadcast({}, "", json::value(-inf));
    ASSERT_FALSE(sent);
    EXPECT_EQ(sent.error().path, "message");
    settle();
    EXPECT_TRUE(c.sink->bytes.empty());
}

TEST_F(HubTest, ShutdownClosesEveryStreamAndEndsEverySession) {
    auto a = open("a");
    auto b = open("b");
    hub_.shutdown();
    settle();
    EXPECT_TRUE(a.sink->closed);
    EXPECT_EQ(a.sink->reason, end_reason::shutdown);
    EXPECT_TRUE(b.sink->closed);
    EXPECT_EQ(ended_.size(), 2u);

    subscribe_request req;
    req.session = "late";
    EXPECT_EQ(hub_.attach(req, std::make_shared<recording_sink>(), 0).error().code,
              errc::unavailable);
}

class HubGraceTest : public ::testing::Test {
protected:
    HubGraceTest() : hub_(options(), {&ioc_}) {
        hub_.set_end_handler([this](ended_session s) { ended_.push_back(std::move(s)); });
    }

    static hub_options options() {
        hub_options o;
        o.session_grace = 50ms;
        return o;
    }

    attachment open(const std::string& id, std::shared_ptr<recording_sink> s) {
        subscribe_request req;
        req.session = id;
        auto r = hub_.attach(req, std::move(s), 0);
        EXPECT_TRUE(r);
        ioc_.restart();
        ioc_.poll();
        return *r;
    }

    boost::asio::io_context ioc_;
    hub hub_;
    std::vector<ended_session> ended_;
};

TEST_F(HubGraceTest, SessionOutlivesItsConnectionForTheGrace) {
    auto s = std::make_shared<recording_sink>();
    auto a = open("s1", s);
    hub_.detached(a.token, end_reason::client_closed);

    EXPECT_TRUE(ended_.empty());
    auto r = hub_.push({}, "s1", json::value(1));
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->event_id); // kept for a reconnect
    EXPECT_EQ(r->delivered, 0u);

    ioc_.restart();
    ioc_.run_for(200ms);
    ASSERT_EQ(ended_.size(), 1u);
    EXPECT_EQ(ended_[0].reason, end_reason::client_closed);
}

TEST_F(HubGraceTest, ReconnectWithinTheGraceKeepsTheSessionAndReplays) {
    auto s = std::make_shared<recording_sink>();
    auto a = open("s1", s);
    auto before = hub_.push({}, "s1", json::value(0));
    hub_.detached(a.token, end_reason::client_closed);
    ASSERT_TRUE(hub_.push({}, "s1", json::value(1)));
    ASSERT_TRUE(hub_.push({}, "s1", json::value(2)));

    auto s2 = std::make_shared<recording_sink>();
    subscribe_request req;
    req.session = "s1";
    req.last_event_id = *before->event_id;
    ASSERT_TRUE(hub_.attach(req, s2, 0));
    ioc_.restart();
    ioc_.run_for(200ms);
    EXPECT_TRUE(ended_.empty());
    EXPECT_EQ(s2->bytes.size(), 2u);
}

// F18 with grace: a kick closes the connection but the session keeps its grace, accepts
// pushes, and a resume inside the grace gets them; without a resume it ends as kicked.
TEST_F(HubGraceTest, KickKeepsTheGraceForAResume) {
    auto s = std::make_shared<recording_sink>();
    auto a = open("s1", s);
    ASSERT_TRUE(hub_.kick({}, "s1"));
    ioc_.restart();
    ioc_.poll();
    EXPECT_TRUE(s->closed);
    EXPECT_EQ(s->reason, end_reason::kicked);
    EXPECT_TRUE(ended_.empty());
    hub_.detached(a.token, end_reason::kicked); // the closed sink's report changes nothing

    auto pushed = hub_.push({}, "s1", json::value(1));
    ASSERT_TRUE(pushed && pushed->event_id);
    ioc_.restart();
    ioc_.run_for(200ms);
    ASSERT_EQ(ended_.size(), 1u);
    EXPECT_EQ(ended_[0].reason, end_reason::kicked);

    // A session without a connection ends at once when kicked.
    ASSERT_TRUE(hub_.register_session({}, "idle"));
    ASSERT_TRUE(hub_.kick({}, "idle"));
    EXPECT_EQ(ended_.size(), 2u);
}

// Publishers on several threads, sinks on two shards: every sink receives every event
// addressed to it, in the order the hub accepted them. Run under TSan in CI.
TEST(HubThreadsTest, DeliveryOrderIsTheHubsOrderAcrossPublishers) {
    boost::asio::io_context s0(1);
    boost::asio::io_context s1(1);
    hub_options o;
    o.session_grace = 0ms;
    hub h(o, {&s0, &s1});

    auto g0 = boost::asio::make_work_guard(s0);
    auto g1 = boost::asio::make_work_guard(s1);
    std::thread t0([&] { s0.run(); });
    std::thread t1([&] { s1.run(); });

    constexpr int sinks = 4;
    std::vector<std::shared_ptr<recording_sink>> recs;
    for (int i = 0; i < sinks; ++i) {
        recs.push_back(std::make_shared<recording_sink>());
        subscribe_request req;
        req.session = "s" + std::to_string(i);
        req.channels = {"all"};
        auto& ctx = i % 2 == 0 ? s0 : s1;
        std::promise<void> done;
        boost::asio::post(ctx, [&, i] {
            ASSERT_TRUE(
                h.attach(req, recs[static_cast<std::size_t>(i)], static_cast<std::size_t>(i % 2)));
            done.set_value();
        });
        done.get_future().wait();
    }

    constexpr int publishers = 4;
    constexpr int per_publisher = 500;
    std::vector<std::thread> pubs;
    for (int p = 0; p < publishers; ++p) {
        pubs.emplace_back([&h, p] {
            for (int k = 0; k < per_publisher; ++k) {
                if (k % 2 == 0) {
                    ASSERT_TRUE(h.broadcast({}, "all", json::value(k)));
                } else {
                    ASSERT_TRUE(h.push({}, "s" + std::to_string(p), json::value(k)));
                }
            }
        });
    }
    for (auto& t : pubs) {
        t.join();
    }

    // Let both shards drain, then stop them.
    for (auto* ctx : {&s0, &s1}) {
        std::promise<void> done;
        boost::asio::post(*ctx, [&] { done.set_value(); });
        done.get_future().wait();
    }
    g0.reset();
    g1.reset();
    s0.stop();
    s1.stop();
    t0.join();
    t1.join();

    const std::size_t broadcasts = publishers * per_publisher / 2;
    for (int i = 0; i < sinks; ++i) {
        const auto& seqs = recs[static_cast<std::size_t>(i)]->seqs;
        EXPECT_EQ(seqs.size(), broadcasts + per_publisher / 2) << "sink " << i;
        EXPECT_TRUE(std::is_sorted(seqs.begin(), seqs.end())) << "sink " << i;
        EXPECT_EQ(std::adjacent_find(seqs.begin(), seqs.end()), seqs.end()) << "sink " << i;
    }
}

} // namespace
} // namespace ssehub
