// SPDX-License-Identifier: Apache-2.0
//
// The delivery model of DESIGN.md section 4 against the real binary: resume with
// Last-Event-ID, `gap` when history cannot cover it, grace, slow consumers, dead peers,
// shutdown with events in flight, and ordering across publishers (field cases F07, F08,
// F09, F10, F13, F14 A2, F17, F18, F24, F25, F26).

#include "harness.hpp"

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <map>
#include <regex>

namespace ssehub::test {
namespace {

namespace json = boost::json;

bool is_success(int status) {
    return status >= 200 && status < 300;
}

/// A subscription that resumes from `last_event_id`, in the Last-Event-ID header.
subscribe_options resuming_at(std::string last_event_id) {
    subscribe_options o;
    o.headers = {{"Last-Event-ID", std::move(last_event_id)}};
    return o;
}

/// A client socket with a 4 KiB receive buffer: once it stops reading, the hub's writes
/// to it stall after a few KiB.
subscribe_options stopped_reader() {
    subscribe_options o;
    o.receive_buffer = 4096;
    return o;
}

request_options short_timeout() {
    request_options o;
    o.timeout = 5s;
    return o;
}

bool listed(const server_process& hub, std::string_view session) {
    return mentions(http_request(hub, "GET", "/api/v1/sessions").json(), session);
}

/// `{"i":N}` as a frame's data gives N; -1 for anything else.
long long index_of(const sse_frame& f) {
    const auto v = f.json();
    if (!v.is_object() || !v.as_object().contains("i")) {
        return -1;
    }
    return v.at("i").to_number<long long>();
}

/// Broadcasts `{"i":first}`..`{"i":last}` to `channel` in one actions document per 100.
std::vector<std::string> publish_range(const server_process& hub, std::string_view element,
                                       std::string_view target, int first, int last,
                                       std::size_t padding = 0);

std::vector<std::string> broadcast_range(const server_process& hub, std::string_view channel,
                                         int first, int last, std::size_t padding = 0) {
    return publish_range(hub, "broadcast", channel, first, last, padding);
}

/// The same with `element` (push or broadcast) to `target` (a session or a channel).
std::vector<std::string> publish_range(const server_process& hub, std::string_view element,
                                       std::string_view target, int first, int last,
                                       std::size_t padding) {
    std::vector<std::string> ids;
    const std::string pad(padding, 'p');
    for (int from = first; from <= last; from += 100) {
        json::array doc;
        for (int i = from; i <= std::min(last, from + 99); ++i) {
            json::object message{{"i", i}};
            if (padding > 0) {
                message["pad"] = pad;
            }
            doc.push_back(pin(element, {{"id", target}, {"message", message}}));
        }
        auto r = http_request(hub, "POST", "/api/v1/actions", to_json(doc));
        EXPECT_EQ(r.status, 200) << r.body.substr(0, 300);
        const json::value results = r.json();
        if (!results.is_array()) {
            break;
        }
        for (const auto& result : results.as_array()) {
            if (const auto* id = result.as_object().if_contains("eventId"); id && id->is_string()) {
                ids.emplace_back(id->as_string());
            }
        }
    }
    return ids;
}

/// The `{"i":N}` values of the events read until `want` of them arrived or `deadline`.
std::vector<long long> read_indices(sse_stream& s, std::size_t want, clock::time_point deadline,
                                    std::vector<sse_frame>* gaps = nullptr) {
    std::vector<long long> out;
    while (out.size() < want) {
        auto f = s.next_event(deadline);
        if (!f) {
            break;
        }
        if (f->event == "gap") {
            if (gaps != nullptr) {
                gaps->push_back(*f);
            }
            continue;
        }
        out.push_back(index_of(*f));
    }
    return out;
}

std::vector<long long> range(long long first, long long last) {
    std::vector<long long> out;
    for (long long i = first; i <= last; ++i) {
        out.push_back(i);
    }
    return out;
}

// ---------------------------------------------------------------------------------------
// Resume: F17, F18, F25.

class ResumeTest : public hub_test {
protected:
    // A ring of 100 per channel, as in F17; s0 follows c and sees 150 broadcasts.
    void SetUp() override {
        start({"--history-channel-events", "100", "--session-grace", "0s"});
        auto s0 = subscribe("/events?session=s0&channel=c");
        ids_ = broadcast_range(hub(), "c", 1, 150);
        ASSERT_EQ(ids_.size(), 150u);
        auto seen = read_indices(*s0, 150, after(10s));
        ASSERT_EQ(seen, range(1, 150));
        s0->socket().close();
        ASSERT_TRUE(eventually([&] { return !listed(hub(), "s0"); }, after(5s)));
    }

    /// k<i>: the id s0 saw with event i.
    const std::string& k(int i) const { return ids_.at(static_cast<std::size_t>(i - 1)); }

    std::unique_ptr<sse_stream> resume(std::string query, header_list headers = {}) {
        subscribe_options o;
        o.headers = std::move(headers);
        return subscribe("/events?session=s0&channel=c" + query, o);
    }

    std::vector<std::string> ids_;
};

// F17: an id inside the window replays exactly what follows, without `gap`, then live.
TEST_F(ResumeTest, IdInsideHistoryReplaysTheRestWithoutGap) {
    auto s = resume("", {{"Last-Event-ID", k(120)}});
    std::vector<sse_frame> gaps;
    EXPECT_EQ(read_indices(*s, 30, after(5s), &gaps), range(121, 150));
    EXPECT_TRUE(gaps.empty()) << gaps.front().raw;

    ASSERT_EQ(broadcast_range(hub(), "c", 151, 151).size(), 1u);
    EXPECT_EQ(read_indices(*s, 1, after(5s)), range(151, 151));
    EXPECT_FALSE(s->next_event(after(200ms))) << "an event arrived twice";
    EXPECT_EQ(metric(hub(), "gaps_total"), 0);
}

// F17: an evicted id gets `gap` naming the channel, then the 100 retained, then live.
TEST_F(ResumeTest, EvictedIdGetsGapThenWhatIsRetained) {
    auto s = resume("", {{"Last-Event-ID", k(10)}});
    auto first = s->next_event(after(5s));
    ASSERT_TRUE(first);
    EXPECT_EQ(first->event, "gap") << first->raw;
    const auto gap = first->json();
    EXPECT_TRUE(mentions(gap, "c")) << first->raw;
    EXPECT_TRUE(mentions(gap, "expired")) << first->raw;
    ASSERT_TRUE(first->id);
    EXPECT_EQ(read_indices(*s, 100, after(5s)), range(51, 150));
    EXPECT_EQ(metric(hub(), "gaps_total"), 1);
}

// F17: an unreadable id never crashes and never replays another session's events; the
// client is told with `gap`, then gets what its own streams hold.
TEST_F(ResumeTest, UnreadableIdGetsGapAndNoForeignEvents) {
    auto other = subscribe("/events?session=other");
    ASSERT_TRUE(is_success(http_request(hub(), "POST", "/api/v1/sessions/other/messages",
                                        R"({"message":{"secret":1}})")
                               .status));
    for (const std::string& bad :
         {std::string("does-not-exist"), k(5) + "x", std::string("\xc3\xa9-1"), std::string("-"),
          k(120).substr(0, k(120).size() - 1) + "99999999999999999999"}) {
        auto s = resume("", {{"Last-Event-ID", bad}});
        ASSERT_EQ(s->head().status, 200) << bad;
        auto first = s->next_event(after(5s));
        ASSERT_TRUE(first) << bad;
        EXPECT_EQ(first->event, "gap") << bad << ": " << first->raw;
        while (auto f = s->next_event(after(300ms))) {
            EXPECT_EQ(f->data.find("secret"), std::string::npos) << bad << ": " << f->raw;
            EXPECT_GE(index_of(*f), 1) << bad << ": " << f->raw;
        }
        s->socket().close();
        ASSERT_TRUE(eventually([&] { return !listed(hub(), "s0"); }, after(5s)));
    }
}

// F17: an empty Last-Event-ID header is a fresh stream, no replay and no `gap`.
TEST_F(ResumeTest, EmptyHeaderIsAFreshStream) {
    auto s = resume("", {{"Last-Event-ID", ""}});
    EXPECT_FALSE(s->next_event(after(300ms))) << s->body();
}

// F17, F25 B: the query parameter resumes like the header; with both, the header wins.
TEST_F(ResumeTest, QueryParameterResumesAndTheHeaderWins) {
    auto q = resume("&lastEventId=" + url_encode(k(120)));
    EXPECT_EQ(read_indices(*q, 30, after(5s)), range(121, 150));
    q->socket().close();
    ASSERT_TRUE(eventually([&] { return !listed(hub(), "s0"); }, after(5s)));

    auto both = resume("&lastEventId=" + url_encode(k(120)), {{"Last-Event-ID", k(140)}});
    std::vector<sse_frame> gaps;
    EXPECT_EQ(read_indices(*both, 10, after(5s), &gaps), range(141, 150));
    EXPECT_TRUE(gaps.empty());
    EXPECT_FALSE(both->next_event(after(200ms)));
}

// F25 A: a repeated parameter is answered 200; the last one (the newest) is the resume
// point, and nothing before it is sent again.
TEST_F(ResumeTest, RepeatedQueryParameterTakesTheLast) {
    for (const std::string_view method : {"GET", "POST"}) {
        subscribe_options o;
        o.method = std::string(method);
        if (method == "POST") {
            o.body = "{}";
        }
        auto s = subscribe("/events?session=s0&channel=c&lastEventId=" + url_encode(k(130)) +
                               "&lastEventId=" + url_encode(k(145)),
                           o);
        ASSERT_EQ(s->head().status, 200) << method;
        std::vector<sse_frame> gaps;
        EXPECT_EQ(read_indices(*s, 5, after(5s), &gaps), range(146, 150)) << method;
        EXPECT_TRUE(gaps.empty()) << method;
        EXPECT_FALSE(s->next_event(after(200ms))) << method;
        s->socket().close();
        ASSERT_TRUE(eventually([&] { return !listed(hub(), "s0"); }, after(5s)));
    }
}

// F17: history older than its age is gone; the resume says so.
TEST(ResumeAgeTest, ExpiredByAgeGetsGap) {
    server_process hub({"--history-channel-age", "1s", "--session-grace", "0s"});
    {
        sse_stream s0(hub, "/events?session=s0&channel=c");
        ASSERT_TRUE(s0.read_head(after(5s)));
        auto ids = broadcast_range(hub, "c", 1, 3);
        ASSERT_EQ(ids.size(), 3u);
        ASSERT_EQ(read_indices(s0, 3, after(5s)), range(1, 3));
        std::this_thread::sleep_for(2500ms); // past the age and a sweep

        sse_stream again(hub, "/events?session=s1&channel=c", resuming_at(ids[0]));
        ASSERT_TRUE(again.read_head(after(5s)));
        auto first = again.next_event(after(5s));
        ASSERT_TRUE(first);
        EXPECT_EQ(first->event, "gap") << first->raw;
        EXPECT_FALSE(again.next_event(after(300ms))) << "expired events were replayed";
    }
    EXPECT_TRUE(hub.stop().clean()) << hub.output();
}

// F17: an id of an earlier run of the process gets `gap` (reason restarted).
TEST(ResumeEpochTest, IdOfAnEarlierRunGetsGap) {
    std::string old_id;
    {
        server_process first;
        sse_stream s(first, "/events?session=s1&channel=c");
        ASSERT_TRUE(s.read_head(after(5s)));
        auto ids = broadcast_range(first, "c", 1, 2);
        ASSERT_EQ(ids.size(), 2u);
        old_id = ids[1];
        EXPECT_TRUE(first.stop().clean()) << first.output();
    }
    server_process second;
    {
        sse_stream s(second, "/events?session=s1&channel=c", resuming_at(old_id));
        ASSERT_TRUE(s.read_head(after(5s)));
        auto first = s.next_event(after(5s));
        ASSERT_TRUE(first);
        EXPECT_EQ(first->event, "gap") << first->raw;
        EXPECT_TRUE(mentions(first->json(), "restarted")) << first->raw;
    }
    EXPECT_TRUE(second.stop().clean()) << second.output();
}

// ---------------------------------------------------------------------------------------
// Grace and kicks: F08 (grace variant), F18.

class GraceTest : public hub_test {
protected:
    void SetUp() override { start({"--session-grace", "2s", "--stream-retry", "100ms"}); }
};

// F18 with grace: the hub kicks s1; broadcasts and pushes made before the client comes
// back arrive once, in the order accepted, and nothing already delivered is resent.
TEST_F(GraceTest, KickedSessionResumesWithoutLossOrDuplicates) {
    ASSERT_EQ(actions(declared("s1")).status, 200);
    auto s = subscribe("/events?session=s1&channel=c");
    auto ids = broadcast_range(hub(), "c", 1, 20);
    ASSERT_EQ(read_indices(*s, 20, after(5s)), range(1, 20));

    ASSERT_TRUE(is_success(http_request(hub(), "DELETE", "/api/v1/sessions/s1").status));
    EXPECT_TRUE(s->wait_closed(after(5s)));
    broadcast_range(hub(), "c", 21, 25);
    for (int i = 26; i <= 28; ++i) {
        auto r = http_request(hub(), "POST", "/api/v1/sessions/s1/messages",
                              R"({"message":{"i":)" + std::to_string(i) + "}}");
        ASSERT_EQ(r.status, 200) << r.body;
        EXPECT_TRUE(r.json().as_object().contains("eventId")) << "a push in the grace is kept";
    }

    auto again = subscribe("/events?session=s1&channel=c", resuming_at(ids.back()));
    std::vector<sse_frame> gaps;
    EXPECT_EQ(read_indices(*again, 8, after(5s), &gaps), range(21, 28));
    EXPECT_TRUE(gaps.empty());
    EXPECT_FALSE(again->next_event(after(200ms)));
    EXPECT_EQ(records(hub(), "s1"), 0u) << "the session never ended";

    // A new subscription without Last-Event-ID gets no history.
    auto fresh = subscribe("/events?session=s9&channel=c");
    EXPECT_FALSE(fresh->next_event(after(200ms)));
}

// A fresh stream is told where it starts (an id-only block, which dispatches nothing): a
// client cut before its first event resumes from there and loses nothing.
TEST_F(GraceTest, FreshStreamLearnsWhereItStarts) {
    std::string cursor;
    {
        auto s = subscribe("/events?session=f1&channel=c");
        auto start = s->next_frame(after(5s));
        ASSERT_TRUE(start && start->id) << s->body();
        EXPECT_FALSE(start->is_event()) << start->raw;
        EXPECT_EQ(start->raw, "id:" + *start->id + "\n\n");
        cursor = *start->id;
        s->socket().reset(); // cut before anything else arrived
    }
    broadcast_range(hub(), "c", 1, 3);
    auto again = subscribe("/events?session=f1&channel=c", resuming_at(cursor));
    EXPECT_EQ(read_indices(*again, 3, after(5s)), range(1, 3));
    EXPECT_FALSE(again->next_event(after(200ms)));
    EXPECT_EQ(again->body().find("\nid:" + cursor + "\n\n"), std::string::npos)
        << "a resumed stream must not be moved to the current position";
}

// F08 grace variant: `disconnected` runs once, when the grace ends without a reconnect;
// a reconnect inside the grace makes no record and receives what was pushed meanwhile.
TEST_F(GraceTest, DisconnectedRunsOnlyWhenTheGraceEnds) {
    ASSERT_EQ(actions(json::array{declared("s6"), declared("s7")}).status, 200);
    auto s6 = subscribe("/events?session=s6");
    auto s7 = subscribe("/events?session=s7");
    auto before =
        http_request(hub(), "POST", "/api/v1/sessions/s7/messages", R"({"message":{"i":0}})");
    ASSERT_EQ(read_indices(*s7, 1, after(5s)), range(0, 0));
    const auto dropped_at = clock::now();
    s6->socket().close();
    s7->socket().close();

    for (int i = 1; i <= 3; ++i) {
        auto r = http_request(hub(), "POST", "/api/v1/sessions/s7/messages",
                              R"({"message":{"i":)" + std::to_string(i) + "}}");
        ASSERT_EQ(r.status, 200) << r.body;
    }
    std::this_thread::sleep_for(500ms);
    EXPECT_TRUE(listed(hub(), "s6")) << "the session ended before its grace";
    EXPECT_EQ(records(hub(), "s6"), 0u);
    auto back = subscribe("/events?session=s7",
                          resuming_at(std::string(before.json().at("eventId").as_string())));
    EXPECT_EQ(read_indices(*back, 3, after(5s)), range(1, 3));

    ASSERT_TRUE(eventually([&] { return records(hub(), "s6", "client_closed") == 1; }, after(10s)))
        << hub().output();
    EXPECT_GE(clock::now() - dropped_at, 1500ms) << "disconnected ran before the grace ended";
    EXPECT_FALSE(listed(hub(), "s6"));
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(records(hub(), "s6"), 1u);
    EXPECT_EQ(records(hub(), "s7"), 0u);
    EXPECT_EQ(
        http_request(hub(), "POST", "/api/v1/sessions/s6/messages", R"({"message":1})").status,
        404);
}

// ---------------------------------------------------------------------------------------
// Slow consumers: F10, F14 A2.

// A reader that stops is closed at the outbound limit, with a log line and a counter,
// while a normal reader gets every event in order; the slow one then resumes from its last
// complete event and gets the rest once, in order.
TEST(SlowConsumerTest, StoppedReaderIsClosedAtTheLimitWhileOthersFlow) {
    server_process hub({"--stream-outbound-limit", "256KiB", "--history-channel-events", "5000",
                        "--history-max-bytes", "32MiB", "--session-grace", "10s"});
    constexpr int count = 2000;

    sse_stream slow(hub, "/events?session=slow&channel=c", stopped_reader());
    ASSERT_TRUE(slow.read_head(after(5s)));
    ASSERT_TRUE(slow.next_frame(after(5s))); // retry:, then it stops reading

    sse_stream fast(hub, "/events?session=fast&channel=c");
    ASSERT_TRUE(fast.read_head(after(5s)));
    std::vector<long long> fast_seen;
    std::thread reader([&] { fast_seen = read_indices(fast, count, after(60s)); });

    // 8 MB: more than the kernel buffers between the hub and the slow client can hold
    // (tcp_wmem allows 4 MiB), so the hub's own queue passes the limit.
    auto ids = broadcast_range(hub, "c", 1, count, 4000);
    reader.join();
    EXPECT_EQ(fast_seen, range(1, count));
    ASSERT_EQ(ids.size(), static_cast<std::size_t>(count));
    ASSERT_TRUE(eventually([&] { return metric(hub, "slow_consumer_disconnects_total") == 1; },
                           after(10s)));

    // The slow one got a prefix of complete events and then the close.
    EXPECT_TRUE(slow.wait_closed(after(30s)));
    std::vector<long long> slow_seen;
    std::string last_id;
    while (auto f = slow.next_event(after(1s))) {
        slow_seen.push_back(index_of(*f));
        last_id = f->id.value_or("");
    }
    ASSERT_FALSE(slow_seen.empty());
    ASSERT_LT(slow_seen.size(), static_cast<std::size_t>(count));
    EXPECT_EQ(slow_seen, range(1, static_cast<long long>(slow_seen.size())));
    EXPECT_EQ(metric(hub, "slow_consumer_disconnects_total"), 1);
    EXPECT_NE(hub.output().find("slow consumer disconnected session=slow"), std::string::npos);
    EXPECT_LE(metric(hub, "history_bytes"), 32ll << 20);

    sse_stream again(hub, "/events?session=slow&channel=c", resuming_at(last_id));
    ASSERT_TRUE(again.read_head(after(5s)));
    const auto rest = static_cast<long long>(slow_seen.size()) + 1;
    std::vector<sse_frame> gaps;
    EXPECT_EQ(read_indices(again, static_cast<std::size_t>(count - rest + 1), after(30s), &gaps),
              range(rest, count));
    EXPECT_TRUE(gaps.empty());
    EXPECT_FALSE(again.next_event(after(200ms)));
    EXPECT_TRUE(hub.stop().clean()) << hub.output();
}

// F14 A2: the same with pushes to one session: every push is accepted, none replaced; the
// stopped reader is closed at the limit and its resume gets every remaining one, in order.
TEST(SlowConsumerTest, StoppedReaderOfPushesResumesWithEveryOne) {
    server_process hub({"--stream-outbound-limit", "64KiB", "--history-session-events", "10000",
                        "--history-max-bytes", "32MiB", "--session-grace", "10s"});
    constexpr int count = 2000;
    sse_stream slow(hub, "/events?session=s1", stopped_reader());
    ASSERT_TRUE(slow.read_head(after(5s)));

    auto ids = publish_range(hub, "push", "s1", 1, count, 4000);
    ASSERT_EQ(ids.size(), static_cast<std::size_t>(count)) << "a push was refused";
    ASSERT_TRUE(eventually([&] { return metric(hub, "slow_consumer_disconnects_total") == 1; },
                           after(10s)));
    EXPECT_TRUE(slow.wait_closed(after(30s)));
    std::vector<long long> seen;
    std::string last_id;
    while (auto f = slow.next_event(after(1s))) {
        seen.push_back(index_of(*f));
        last_id = f->id.value_or("");
    }
    ASSERT_FALSE(seen.empty());
    ASSERT_EQ(seen, range(1, static_cast<long long>(seen.size())));

    sse_stream again(hub, "/events?session=s1", resuming_at(last_id));
    ASSERT_TRUE(again.read_head(after(5s)));
    const auto rest = static_cast<long long>(seen.size()) + 1;
    EXPECT_EQ(read_indices(again, static_cast<std::size_t>(count - rest + 1), after(30s)),
              range(rest, count));
    EXPECT_FALSE(again.next_event(after(200ms)));
    EXPECT_TRUE(hub.stop().clean()) << hub.output();
}

// history.max_bytes bounds all history together: channels under their count limit lose
// their oldest events to the budget, and a resume past them is told with `gap`.
TEST(HistoryLimitTest, TotalHistoryStaysWithinMaxBytes) {
    server_process hub({"--history-max-bytes", "256KiB", "--session-grace", "0s"});
    sse_stream anchor(hub, "/events?session=a&channel=c0&channel=c1&channel=c2&channel=c3");
    ASSERT_TRUE(anchor.read_head(after(5s)));
    std::string first_id;
    for (int round = 0; round < 5; ++round) {
        for (int ch = 0; ch < 4; ++ch) {
            auto ids = broadcast_range(hub, "c" + std::to_string(ch), 1, 40, 1000);
            ASSERT_EQ(ids.size(), 40u);
            if (first_id.empty()) {
                first_id = ids.front();
            }
            ASSERT_LE(metric(hub, "history_bytes"), 256 << 10);
        }
    }
    EXPECT_GT(metric(hub, "history_evictions_total"), 0);

    sse_stream again(hub, "/events?session=b&channel=c0", resuming_at(first_id));
    ASSERT_TRUE(again.read_head(after(5s)));
    auto first = again.next_event(after(5s));
    ASSERT_TRUE(first);
    EXPECT_EQ(first->event, "gap") << first->raw;
    EXPECT_TRUE(mentions(first->json(), "c0")) << first->raw;
    EXPECT_TRUE(hub.stop().clean()) << hub.output();
}

// ---------------------------------------------------------------------------------------
// Dead peers and replaced connections: F24, item 6 of issue 4.

// A client that stops reading stalls the hub's writes; the write timeout ends it within
// bounded time, counts it, and the session ends (reason dead_peer).
TEST(DeadPeerTest, StalledWriteEndsTheStreamAtTheWriteTimeout) {
    server_process hub({"--stream-write-timeout", "1s", "--stream-outbound-limit", "64MiB",
                        "--session-grace", "0s", "--stream-keepalive", "1s"});
    ASSERT_EQ(http_request(hub, "POST", "/api/v1/actions", to_json(declared("gone"))).status, 200);
    sse_stream s(hub, "/events?session=gone", stopped_reader());
    ASSERT_TRUE(s.read_head(after(5s)));

    const std::string big(100'000, 'x');
    for (int i = 0; i < 100 && listed(hub, "gone"); ++i) {
        http_request(hub, "POST", "/api/v1/sessions/gone/messages",
                     R"({"message":")" + big + "\"}");
    }
    EXPECT_TRUE(eventually([&] { return !listed(hub, "gone"); }, after(20s)));
    EXPECT_GE(metric(hub, "write_timeouts_total"), 1);
    EXPECT_EQ(metric(hub, "slow_consumer_disconnects_total"), 0);
    EXPECT_TRUE(eventually([&] { return records(hub, "gone", "dead_peer") == 1; }, after(5s)))
        << hub.output();
    EXPECT_TRUE(hub.stop().clean()) << hub.output();
}

// Stream sockets probe an idle peer after about the keep-alive period, not after the
// system's two hours: `ss` shows the kernel's keep-alive timer of the hub's side.
TEST(DeadPeerTest, StreamSocketsUseTcpKeepAlive) {
    server_process hub({"--stream-keepalive", "5s"});
    sse_stream s(hub, "/events?session=ka");
    ASSERT_TRUE(s.read_head(after(5s)));
    ASSERT_TRUE(s.next_frame(after(5s)));

    const std::string command =
        "ss -tno state established '( sport = :" + std::to_string(hub.port()) + " )' 2>&1";
    std::string out;
    if (FILE* p = ::popen(command.c_str(), "r")) {
        char buf[512];
        while (std::fgets(buf, sizeof buf, p) != nullptr) {
            out += buf;
        }
        ::pclose(p);
    }
    std::smatch m;
    ASSERT_TRUE(std::regex_search(out, m, std::regex(R"(timer:\(keepalive,([0-9.]+)(ms|sec|min))")))
        << out;
    EXPECT_NE(m[2].str(), "min") << out;
    if (m[2].str() == "sec") {
        EXPECT_LE(std::stod(m[1].str()), 5.0) << out;
    }
    EXPECT_TRUE(hub.stop().clean()) << hub.output();
}

// F24: the connection a reconnect replaces is closed at once even when its client stopped
// reading with data queued, never after the write timeout; pushes reach only the newest.
TEST(ReplaceTest, StalledOldConnectionIsClosedAtOnce) {
    server_process hub({"--stream-write-timeout", "60s", "--session-grace", "10s"});
    std::unique_ptr<sse_stream> old;
    for (int round = 0; round < 5; ++round) {
        auto next = std::make_unique<sse_stream>(hub, "/events?session=s1", stopped_reader());
        ASSERT_TRUE(next->read_head(after(5s))) << round;
        EXPECT_EQ(next->head().status, 200);
        if (old) {
            EXPECT_TRUE(old->wait_closed(after(5s))) << "round " << round;
            old->socket().reset();
        }
        // Fill what the new one will not read either, so it is stalled when replaced.
        const std::string big(200'000, 'x');
        for (int i = 0; i < 10; ++i) {
            auto r = http_request(hub, "POST", "/api/v1/sessions/s1/messages",
                                  R"({"message":")" + big + "\"}");
            ASSERT_EQ(r.status, 200);
            EXPECT_EQ(r.json().at("delivered"), 1) << "round " << round;
        }
        old = std::move(next);
    }
    EXPECT_EQ(metric(hub, "write_timeouts_total"), 0);
    EXPECT_EQ(records(hub, "s1"), 0u);
    old.reset();
    EXPECT_TRUE(hub.stop().clean()) << hub.output();
}

// ---------------------------------------------------------------------------------------
// Endings: F07, F08, F09, F13.

class LifecycleTest : public hub_test {};

// F07: idle clients that leave, with FIN or RST, are noticed at once: sessions, streams
// and files are back to their baseline long before any keep-alive, one record each.
TEST_F(LifecycleTest, IdleClientsThatLeaveAreNoticedAtOnce) {
    start({"--stream-keepalive", "60s", "--session-grace", "0s"});
    constexpr int count = 200;
    json::array doc;
    for (int i = 0; i < 2 * count; ++i) {
        doc.push_back(declared("z" + std::to_string(i)));
    }
    ASSERT_EQ(actions(doc).status, 200);
    const auto files = open_files(hub().pid());

    for (int round = 0; round < 2; ++round) {
        std::vector<std::unique_ptr<sse_stream>> streams;
        for (int i = round * count; i < (round + 1) * count; ++i) {
            streams.push_back(
                std::make_unique<sse_stream>(hub(), "/events?session=z" + std::to_string(i)));
            ASSERT_TRUE(streams.back()->read_head(after(5s)));
            ASSERT_TRUE(streams.back()->next_frame(after(5s)));
        }
        for (auto& s : streams) {
            if (round == 0) {
                s->socket().close();
            } else {
                s->socket().reset();
            }
        }
    }
    EXPECT_TRUE(eventually([&] { return metric(hub(), "streams") == 0; }, after(5s)));
    EXPECT_TRUE(eventually([&] { return metric(hub(), "sessions") == 0; }, after(5s)));
    EXPECT_TRUE(eventually([&] { return open_files(hub().pid()) <= files + 1; }, after(5s)))
        << open_files(hub().pid()) << " files open, " << files << " before";
    // The actions run off the hub's threads: wait for all of them, then check each.
    EXPECT_TRUE(eventually(
        [&] {
            const std::string out = hub().output();
            std::size_t n = 0;
            for (auto at = out.find(" reason=client_closed)"); at != std::string::npos;
                 at = out.find(" reason=client_closed)", at + 1)) {
                ++n;
            }
            return n >= 2 * count;
        },
        after(10s)));
    for (int i = 0; i < 2 * count; ++i) {
        ASSERT_EQ(records(hub(), "z" + std::to_string(i), "client_closed"), 1u) << i;
    }
}

// F09: clients gone before their stream was set up leave nothing behind.
TEST_F(LifecycleTest, ClientsGoneBeforeSetupLeaveNothing) {
    start({"--session-grace", "0s"});
    for (int i = 0; i < 100; ++i) {
        tcp_client c(hub().host(), hub().port());
        ASSERT_TRUE(c.send("GET /events?session=gone" + std::to_string(i) +
                           "&channel=c HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"));
        c.reset();
    }
    for (int i = 0; i < 50; ++i) {
        tcp_client c(hub().host(), hub().port());
        ASSERT_TRUE(c.send("POST /events?session=half" + std::to_string(i) +
                           " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           "Content-Length: 200\r\n\r\n{\"userId\":\"u1\",\"x\":"));
        c.reset();
    }
    EXPECT_TRUE(eventually([&] { return metric(hub(), "sessions") == 0; }, after(5s)))
        << http_request(hub(), "GET", "/api/v1/sessions").body;
    EXPECT_TRUE(eventually([&] { return metric(hub(), "streams") == 0; }, after(5s)));
    EXPECT_EQ(
        http_request(hub(), "POST", "/api/v1/sessions/gone1/messages", R"({"message":1})").status,
        404);
    auto b = http_request(hub(), "POST", "/api/v1/channels/c/messages", R"({"message":1})");
    EXPECT_TRUE(b.status == 404 || (b.status == 200 && b.json().at("delivered") == 0)) << b.body;
    auto ok = subscribe("/events?session=after");
    EXPECT_EQ(ok->head().status, 200);
}

// F08: one record per ending, whatever the cause, with a reason that tells them apart; the
// channel's own `disconnected` runs once per departing member.
TEST_F(LifecycleTest, DisconnectedRunsOncePerEndingWithItsReason) {
    start({"--session-grace", "0s", "--stream-outbound-limit", "256KiB"});
    json::array doc;
    for (const char* s : {"s1", "s2", "s4", "s5"}) {
        doc.push_back(declared(s));
        doc.push_back(pin(
            "registerChannel",
            {{"id", "room"},
             {"session", s},
             {"disconnected", json::array{json::object{{"type", "log"}, {"message", "left"}}}}}));
    }
    ASSERT_EQ(actions(doc).status, 200);
    auto s1 = subscribe("/events?session=s1");
    auto s2 = subscribe("/events?session=s2");
    auto s4 = std::make_unique<sse_stream>(hub(), "/events?session=s4", stopped_reader());
    ASSERT_TRUE(s4->read_head(after(5s)));
    auto s5 = subscribe("/events?session=s5");

    s1->socket().close();
    ASSERT_TRUE(is_success(http_request(hub(), "DELETE", "/api/v1/sessions/s2").status));
    const std::string kib(1000, 'k');
    for (int i = 0; i < 8000 && listed(hub(), "s4"); i += 100) {
        json::array burst;
        for (int k = 0; k < 100; ++k) {
            burst.push_back(pin("push", {{"id", "s4"}, {"message", kib}}));
        }
        ASSERT_EQ(actions(burst).status, 200);
    }
    ASSERT_TRUE(eventually([&] { return records(hub(), "s4") == 1; }, after(10s)));
    ASSERT_TRUE(
        eventually([&] { return records(hub(), "s1") + records(hub(), "s2") == 2; }, after(5s)));
    std::this_thread::sleep_for(500ms);

    EXPECT_EQ(records(hub(), "s1", "client_closed"), 1u);
    EXPECT_EQ(records(hub(), "s2", "kicked"), 1u);
    EXPECT_EQ(records(hub(), "s4", "slow_consumer"), 1u);
    EXPECT_EQ(records(hub(), "s5"), 0u);
    for (const char* s : {"s1", "s2", "s4"}) {
        EXPECT_FALSE(listed(hub(), s)) << s;
        EXPECT_EQ(http_request(hub(), "POST", "/api/v1/sessions/" + std::string(s) + "/messages",
                               R"({"message":1})")
                      .status,
                  404);
    }
    const std::string out = hub().output();
    std::size_t left = 0;
    for (auto at = out.find("left (session="); at != std::string::npos;
         at = out.find("left (session=", at + 1)) {
        ++left;
    }
    EXPECT_EQ(left, 3u) << "one channel record per departing member";

    // Shutdown ends s5 with its own reason.
    EXPECT_TRUE(hub().stop().clean());
    EXPECT_EQ(records(hub(), "s5", "shutdown"), 1u) << hub().output();
    EXPECT_TRUE(s5->wait_closed(after(5s)));
}

// Without grace a dropped session ends and its stream's events go with it: a client that
// comes back with an id older than them is told with `gap`, never given an empty stream
// as if nothing had been sent.
TEST_F(LifecycleTest, ResumeAfterTheSessionEndedIsToldWhatWasLost) {
    start({"--session-grace", "0s"});
    std::string seen;
    {
        auto s = subscribe("/events?session=s1");
        ASSERT_TRUE(is_success(
            http_request(hub(), "POST", "/api/v1/sessions/s1/messages", R"({"message":{"i":1}})")
                .status));
        auto first = s->next_event(after(5s));
        ASSERT_TRUE(first && first->id);
        seen = *first->id;
        ASSERT_TRUE(is_success(
            http_request(hub(), "POST", "/api/v1/sessions/s1/messages", R"({"message":{"i":2}})")
                .status));
        s->socket().reset(); // cut before reading the second
    }
    ASSERT_TRUE(eventually([&] { return !listed(hub(), "s1"); }, after(5s)));

    auto again = subscribe("/events?session=s1", resuming_at(seen));
    auto first = again->next_event(after(5s));
    ASSERT_TRUE(first);
    EXPECT_EQ(first->event, "gap") << first->raw;
    EXPECT_TRUE(mentions(first->json(), "s1")) << first->raw;
}

// F13: the request timeout guards requests, never an open stream.
TEST_F(LifecycleTest, RequestTimeoutNeverEndsAStream) {
    start({"--server-request-timeout", "1s"});
    auto s = subscribe("/events?session=s1");
    std::this_thread::sleep_for(2500ms);
    ASSERT_TRUE(is_success(
        http_request(hub(), "POST", "/api/v1/sessions/s1/messages", R"({"message":{"i":1}})")
            .status));
    EXPECT_EQ(read_indices(*s, 1, after(5s)), range(1, 1));
    EXPECT_FALSE(s->ended());

    // A request that stalls is still closed within its timeout.
    tcp_client stalled(hub().host(), hub().port());
    ASSERT_TRUE(stalled.send("POST /api/v1/sessions/s1/messages HTTP/1.1\r\nHost: x\r\n"
                             "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                             "{\"message\""));
    EXPECT_TRUE(stalled.read_until_closed(after(10s)));
}

// F26: channels made per connection go once their history expires; the counts come back.
TEST_F(LifecycleTest, ChannelsDoNotOutliveTheirLastMember) {
    start({"--history-channel-age", "1s", "--session-grace", "0s"});
    auto keep = subscribe("/events?session=keep");
    const auto baseline = metric(hub(), "channels");
    http_client api(hub());
    for (int i = 0; i < 100; ++i) {
        const std::string n = std::to_string(i);
        {
            auto s = subscribe("/events?session=t" + n + "&channel=tmp-" + n);
            ASSERT_EQ(api.request("POST", "/api/v1/channels/tmp-" + n + "/messages",
                                  R"({"message":{"i":1}})")
                          .status,
                      200);
            ASSERT_EQ(read_indices(*s, 1, after(5s)), range(1, 1));
        }
        ASSERT_TRUE(
            is_success(api.request("PUT", "/api/v1/channels/m-" + n + "/sessions/keep").status));
        ASSERT_EQ(
            api.request("POST", "/api/v1/channels/m-" + n + "/messages", R"({"message":{"i":2}})")
                .status,
            200);
        ASSERT_TRUE(
            is_success(api.request("DELETE", "/api/v1/channels/m-" + n + "/sessions/keep").status));
    }
    EXPECT_EQ(read_indices(*keep, 100, after(10s)), std::vector<long long>(100, 2));
    EXPECT_TRUE(eventually([&] { return metric(hub(), "channels") == baseline; }, after(10s)))
        << metric(hub(), "channels") << " channels, " << baseline << " before";
    EXPECT_EQ(http_request(hub(), "GET", "/api/v1/channels/tmp-1").status, 404);
    EXPECT_EQ(http_request(hub(), "GET", "/api/v1/channels/m-1").status, 404);

    // The default channel stays and still reaches `keep`; tmp-1 can be used again.
    ASSERT_EQ(actions(pin("broadcast", {{"message", {{"i", 3}}}})).status, 200);
    EXPECT_EQ(read_indices(*keep, 1, after(5s)), range(3, 3));
    auto again = subscribe("/events?session=t1&channel=tmp-1");
    ASSERT_EQ(
        http_request(hub(), "POST", "/api/v1/channels/tmp-1/messages", R"({"message":{"i":4}})")
            .status,
        200);
    EXPECT_EQ(read_indices(*again, 1, after(5s)), range(4, 4));
}

// ---------------------------------------------------------------------------------------
// Shutdown and ordering: items 7 and 8 of issue 4.

// SIGTERM with events in flight: every stream ends with complete events then a `retry:`
// hint and the last chunk, holding a gapless prefix of what was published; `disconnected`
// runs with reason shutdown; the process exits 0 within its deadline.
TEST(ShutdownTest, EventsInFlightEndComplete) {
    server_process hub({"--server-shutdown-deadline", "5s", "--session-grace", "10s"});
    constexpr int streams = 4;
    json::array doc;
    for (int i = 0; i < streams; ++i) {
        doc.push_back(declared("r" + std::to_string(i)));
    }
    ASSERT_EQ(http_request(hub, "POST", "/api/v1/actions", to_json(doc)).status, 200);

    std::vector<std::unique_ptr<sse_stream>> readers;
    for (int i = 0; i < streams; ++i) {
        readers.push_back(std::make_unique<sse_stream>(hub, "/events?session=r" +
                                                                std::to_string(i) + "&channel=c"));
        ASSERT_TRUE(readers.back()->read_head(after(5s)));
    }
    std::vector<std::thread> threads;
    for (auto& r : readers) {
        threads.emplace_back([&r] { r->wait_closed(after(30s)); });
    }

    // A publisher that keeps broadcasting until the hub stops answering.
    std::atomic<int> published{0};
    std::thread publisher([&] {
        try {
            http_client api(hub);
            const std::string pad(2000, 'p');
            for (int i = 1; i <= 20000; ++i) {
                auto r = api.request("POST", "/api/v1/channels/c/messages",
                                     R"({"message":{"i":)" + std::to_string(i) + R"(,"pad":")" +
                                         pad + "\"}}",
                                     short_timeout());
                if (r.status != 200) {
                    break;
                }
                published = i;
            }
        } catch (const std::exception&) {
            // The hub went away mid-request: that is the point.
        }
    });
    ASSERT_TRUE(eventually([&] { return published.load() >= 200; }, after(20s)));

    const auto stopped = hub.stop(15s);
    publisher.join();
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_TRUE(stopped.clean()) << stopped.describe() << "\n" << hub.output();
    EXPECT_NE(hub.output().find("shutting down"), std::string::npos);

    for (int i = 0; i < streams; ++i) {
        auto& r = *readers[static_cast<std::size_t>(i)];
        EXPECT_TRUE(r.ended()) << i;
        EXPECT_FALSE(r.framing_error()) << i;
        const auto& body = r.body();
        ASSERT_GE(body.size(), 2u);
        EXPECT_EQ(body.substr(body.size() - 2), "\n\n") << "stream " << i << " ends mid-event";
        EXPECT_TRUE(std::regex_search(body, std::regex("\nretry:[0-9]+\n\n$"))) << i;
        std::vector<long long> seen;
        while (auto f = r.next_event(after(100ms))) {
            seen.push_back(index_of(*f));
        }
        ASSERT_FALSE(seen.empty()) << i;
        EXPECT_EQ(seen, range(seen.front(), seen.front() + static_cast<long long>(seen.size()) - 1))
            << "stream " << i << " lost or reordered events";
        EXPECT_EQ(records(hub, "r" + std::to_string(i), "shutdown"), 1u) << hub.output();
    }
}

// A SIGTERM right after the `listening` line drains and exits 0; it once came before the
// hub caught signals and killed it.
TEST(ShutdownTest, SigtermRightAfterListeningExitsCleanly) {
    for (int i = 0; i < 10; ++i) {
        server_process hub;
        const auto st = hub.stop();
        ASSERT_TRUE(st.clean()) << "run " << i << ": " << st.describe() << "\n" << hub.output();
    }
}

// SIGTERM stops accepting at once, and a stream that cannot be flushed (its client stopped
// reading) holds the hub no longer than server.shutdown_deadline: it still exits 0, after
// running the stream's `disconnected` with reason shutdown.
TEST(ShutdownTest, StalledStreamHoldsTheHubOnlyUntilTheDeadline) {
    server_process hub({"--server-shutdown-deadline", "2s", "--stream-write-timeout", "60s",
                        "--stream-outbound-limit", "64MiB"});
    ASSERT_EQ(http_request(hub, "POST", "/api/v1/actions", to_json(declared("stuck"))).status, 200);
    sse_stream stuck(hub, "/events?session=stuck", stopped_reader());
    ASSERT_TRUE(stuck.read_head(after(5s)));
    const std::string big(100'000, 'x');
    for (int i = 0; i < 60; ++i) {
        const auto body = R"({"message":")" + big + R"("})";
        ASSERT_EQ(http_request(hub, "POST", "/api/v1/sessions/stuck/messages", body).status, 200);
    }

    ASSERT_TRUE(listed(hub, "stuck"));

    exit_status stopped;
    std::thread stopper([&] { stopped = hub.stop(15s); });
    EXPECT_TRUE(eventually([&] { return hub.output().find("shutting down") != std::string::npos; },
                           after(5s)));
    const auto refused = [&] {
        try {
            tcp_client late(hub.host(), hub.port(), 1s);
            return false;
        } catch (const std::exception&) {
            return true;
        }
    };
    EXPECT_TRUE(eventually(refused, after(1s))) << "the hub still accepts while draining";
    stopper.join();

    EXPECT_TRUE(stopped.clean()) << stopped.describe() << "\n" << hub.output();
    EXPECT_NE(hub.output().find("shutdown deadline reached"), std::string::npos) << hub.output();
    EXPECT_EQ(records(hub, "stuck", "shutdown"), 1u) << hub.output();
}

// Events to one connection arrive in the order the hub accepted them, whether pushes or
// broadcasts and from many publishers; two connections see the broadcasts in one order.
TEST(OrderingTest, ManyPublishersOneOrderPerConnection) {
    server_process hub;
    sse_stream a(hub, "/events?session=a&channel=x&channel=y");
    sse_stream b(hub, "/events?session=b&channel=x&channel=y");
    ASSERT_TRUE(a.read_head(after(5s)));
    ASSERT_TRUE(b.read_head(after(5s)));

    constexpr int publishers = 4;
    constexpr int per_publisher = 150;
    auto collect = [](sse_stream& s, std::size_t want) {
        std::vector<std::pair<long long, long long>> out;
        while (out.size() < want) {
            auto f = s.next_event(after(30s));
            if (!f) {
                break;
            }
            const auto v = f->json();
            out.emplace_back(v.at("p").to_number<long long>(), v.at("k").to_number<long long>());
        }
        return out;
    };
    // a gets every message; b gets the broadcasts and its own pushes (none).
    std::vector<std::pair<long long, long long>> got_a;
    std::vector<std::pair<long long, long long>> got_b;
    std::thread ra([&] { got_a = collect(a, publishers * per_publisher); });
    std::thread rb([&] { got_b = collect(b, publishers * per_publisher * 2 / 3); });

    std::vector<std::thread> pubs;
    for (int p = 0; p < publishers; ++p) {
        pubs.emplace_back([&hub, p] {
            http_client api(hub);
            for (int k = 0; k < per_publisher; ++k) {
                const std::string msg = R"({"message":{"p":)" + std::to_string(p) + R"(,"k":)" +
                                        std::to_string(k) + "}}";
                const std::string target = k % 3 == 0   ? "/api/v1/sessions/a/messages"
                                           : k % 3 == 1 ? "/api/v1/channels/x/messages"
                                                        : "/api/v1/channels/y/messages";
                EXPECT_EQ(api.request("POST", target, msg).status, 200);
            }
        });
    }
    for (auto& t : pubs) {
        t.join();
    }
    ra.join();
    rb.join();

    ASSERT_EQ(got_a.size(), static_cast<std::size_t>(publishers * per_publisher));
    std::map<long long, long long> next;
    for (const auto& [p, k] : got_a) {
        EXPECT_EQ(k, next[p]) << "publisher " << p << " out of order or duplicated";
        next[p] = k + 1;
    }
    std::vector<std::pair<long long, long long>> broadcasts_a;
    std::copy_if(got_a.begin(), got_a.end(), std::back_inserter(broadcasts_a),
                 [](const auto& e) { return e.second % 3 != 0; });
    EXPECT_EQ(broadcasts_a, got_b) << "two connections saw the broadcasts in different orders";
    EXPECT_TRUE(hub.stop().clean()) << hub.output();
}

} // namespace
} // namespace ssehub::test
