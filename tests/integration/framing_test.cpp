// SPDX-License-Identifier: Apache-2.0
//
// The bytes of an event: one compact `data:` line (F03), names and ids that cannot break
// a line (F04), names written exactly (F05), no byte-order mark (F06), only valid UTF-8
// (F28). Each case runs through every publishing route, REST and pin, push and broadcast.

#include "harness.hpp"

#include <boost/json.hpp>

namespace ssehub::test {
namespace {

namespace json = boost::json;

enum class route { rest_push, rest_broadcast, push_pin, broadcast_pin };

std::string_view route_name(route r) {
    switch (r) {
    case route::rest_push:
        return "RestPush";
    case route::rest_broadcast:
        return "RestBroadcast";
    case route::push_pin:
        return "PushPin";
    case route::broadcast_pin:
        return "BroadcastPin";
    }
    return "?";
}

/// Every line of an event stream starts with one of the fields the hub writes, or is empty.
::testing::AssertionResult lines_are_fields(const std::string& body) {
    std::size_t pos = 0;
    while (pos < body.size()) {
        std::size_t eol = body.find('\n', pos);
        std::string_view line(body.data() + pos,
                              (eol == std::string::npos ? body.size() : eol) - pos);
        bool known = line.empty() || line.starts_with("event:") || line.starts_with("id:") ||
                     line.starts_with("data:") || line.starts_with("retry:") ||
                     line.starts_with(":");
        if (!known) {
            return ::testing::AssertionFailure() << "unexpected line: " << line;
        }
        if (eol == std::string::npos) {
            break;
        }
        pos = eol + 1;
    }
    return ::testing::AssertionSuccess();
}

class FramingTest : public hub_test, public ::testing::WithParamInterface<route> {
protected:
    void SetUp() override {
        start({"--stream-keepalive", "1s"});
        stream_ = subscribe("/events?session=f&channel=c");
    }

    /// Publishes `message`, a JSON text kept byte for byte, through the route under test;
    /// `event`, when given, is the JSON text of the event name. Push pins have no event.
    http_response publish(std::string_view message, std::optional<std::string_view> event = {}) {
        std::string m(message);
        std::string e = event ? R"(,"event":)" + std::string(*event) : "";
        switch (GetParam()) {
        case route::rest_push:
            return http_request(hub(), "POST", "/api/v1/sessions/f/messages",
                                R"({"message":)" + m + e + "}");
        case route::rest_broadcast:
            return http_request(hub(), "POST", "/api/v1/channels/c/messages",
                                R"({"message":)" + m + e + "}");
        case route::push_pin:
            return http_request(
                hub(), "POST", "/api/v1/actions",
                R"({"library":"@digipair/skill-sse","element":"push","properties":{"id":"f","message":)" +
                    m + e + "}}");
        case route::broadcast_pin:
            return http_request(
                hub(), "POST", "/api/v1/actions",
                R"({"library":"@digipair/skill-sse","element":"broadcast","properties":{"id":"c","message":)" +
                    m + e + "}}");
        }
        return {};
    }

    /// Where a bad event name is reported.
    std::string event_path() const {
        route r = GetParam();
        return r == route::broadcast_pin || r == route::push_pin ? "properties.event" : "event";
    }

    bool takes_event() const { return GetParam() != route::push_pin; }

    /// The next event on the subscriber's stream.
    std::optional<sse_frame> next() {
        auto event = stream_->next_event(after(5s));
        EXPECT_TRUE(event) << "no event; body so far: " << stream_->body();
        return event;
    }

    /// Publishes a marker and checks it is the next event: nothing but keep-alives came
    /// before it.
    void expect_nothing_written_before_marker() {
        std::size_t skipped = stream_->skipped().size();
        http_response marker = http_request(hub(), "POST", "/api/v1/sessions/f/messages",
                                            R"({"message":{"marker":true}})");
        ASSERT_EQ(marker.status, 200) << marker.body;
        auto event = next();
        ASSERT_TRUE(event);
        EXPECT_TRUE(is_event(*event, "message", R"({"marker":true})"))
            << "something was written for a refused request";
        for (std::size_t i = skipped; i < stream_->skipped().size(); ++i) {
            EXPECT_TRUE(stream_->skipped()[i].comment_only || stream_->skipped()[i].is_cursor())
                << stream_->skipped()[i].raw;
        }
    }

    void TearDown() override {
        if (stream_) {
            EXPECT_TRUE(lines_are_fields(stream_->body()));
            EXPECT_TRUE(is_strict_utf8(stream_->body())) << "the capture is not strict UTF-8";
            stream_.reset();
        }
        hub_test::TearDown();
    }

    std::unique_ptr<sse_stream> stream_;
};

// F03 A: the JSON escape `\n` stays two characters on the one data line.
TEST_P(FramingTest, EscapedNewlineStaysOnOneDataLine) {
    http_response r = publish(R"({"html":"<pre>a\nb</pre>"})");
    ASSERT_EQ(r.status, 200) << r.body;

    auto event = next();
    ASSERT_TRUE(event);
    EXPECT_TRUE(is_event(*event, "message", R"({"html":"<pre>a\nb</pre>"})"));
    EXPECT_EQ(event->data_lines, 1u);
    EXPECT_EQ(event->json().at("html"), "<pre>a\nb</pre>");
}

// F03 B: a pretty-printed body is re-serialised compactly.
TEST_P(FramingTest, PrettyPrintedMessageIsReserialisedCompactly) {
    http_response r = publish("{\n    \"a\": 1,\n    \"b\": [1,\n 2]\n  }\n");
    ASSERT_EQ(r.status, 200) << r.body;

    auto event = next();
    ASSERT_TRUE(event);
    EXPECT_TRUE(is_event(*event, "message", R"({"a":1,"b":[1,2]})"));
}

// F03 C: a trailing line break inside a string is escaped, nothing lost.
TEST_P(FramingTest, TrailingNewlineInStringIsEscaped) {
    http_response r = publish(R"("end\n")");
    ASSERT_EQ(r.status, 200) << r.body;

    auto event = next();
    ASSERT_TRUE(event);
    EXPECT_TRUE(is_event(*event, "message", R"("end\n")"));
}

// F04: CR, LF or NUL in an event name is refused and nothing is written.
TEST_P(FramingTest, LineBreakOrNulInEventNameIsRefused) {
    if (!takes_event()) {
        GTEST_SKIP() << "a push pin has no event name";
    }
    for (std::string_view breaker : {R"(\n)", R"(\r)", R"(\r\n)", R"(\u0000)"}) {
        std::string name = "\"chat" + std::string(breaker) + "data:injected" +
                           std::string(breaker) + std::string(breaker) + "event:admin\"";
        http_response r = publish(R"({"m":1})", name);
        EXPECT_TRUE(is_json_error(r, 400, event_path())) << "event " << name;
    }
    expect_nothing_written_before_marker();
    EXPECT_EQ(stream_->body().find("injected"), std::string::npos);
    EXPECT_EQ(stream_->body().find("admin"), std::string::npos);
}

// F05: a name is written byte for byte, case kept, never padded.
TEST_P(FramingTest, EventNamesAreWrittenExactly) {
    if (!takes_event()) {
        GTEST_SKIP() << "a push pin has no event name";
    }
    for (std::string_view name : {"success", "Success"}) {
        http_response r = publish(R"({"ok":1})", "\"" + std::string(name) + "\"");
        ASSERT_EQ(r.status, 200) << r.body;
        auto event = next();
        ASSERT_TRUE(event);
        EXPECT_TRUE(is_event(*event, name, R"({"ok":1})"));
    }

    // An inner space is either written as is or refused; it is never altered.
    http_response spaced = publish(R"({"ok":2})", R"("order updated")");
    if (spaced.status == 200) {
        auto event = next();
        ASSERT_TRUE(event);
        EXPECT_TRUE(is_event(*event, "order updated", R"({"ok":2})"));
    } else {
        EXPECT_TRUE(is_json_error(spaced, 400, event_path()));
    }
}

// F05: leading or trailing whitespace would make a type no listener matches.
TEST_P(FramingTest, WhitespaceAroundEventNameIsRefused) {
    if (!takes_event()) {
        GTEST_SKIP() << "a push pin has no event name";
    }
    for (std::string_view name : {R"("success ")", R"(" success")", R"("success\t")"}) {
        http_response r = publish(R"({"ok":1})", name);
        EXPECT_TRUE(is_json_error(r, 400, event_path())) << "event " << name;
    }
    expect_nothing_written_before_marker();
}

// F05: omitted or empty, the name is `message`; `event:\n` is never written.
TEST_P(FramingTest, OmittedOrEmptyEventNameIsMessage) {
    http_response omitted = publish(R"({"k":1})");
    ASSERT_EQ(omitted.status, 200) << omitted.body;
    auto first = next();
    ASSERT_TRUE(first);
    EXPECT_TRUE(is_event(*first, "message", R"({"k":1})"));

    if (takes_event()) {
        http_response empty = publish(R"({"k":2})", R"("")");
        ASSERT_EQ(empty.status, 200) << empty.body;
        auto second = next();
        ASSERT_TRUE(second);
        EXPECT_TRUE(is_event(*second, "message", R"({"k":2})"));
    }
    EXPECT_EQ(stream_->body().find("event:\n"), std::string::npos);
}

// F06: U+FEFF travels inside data, raw or escaped, and both events are dispatched.
TEST_P(FramingTest, ByteOrderMarkStaysInsideData) {
    ASSERT_EQ(publish(R"({"s":"\uFEFFhi"})").status, 200);
    ASSERT_EQ(publish(R"("\uFEFF")").status, 200);

    auto first = next();
    ASSERT_TRUE(first);
    EXPECT_TRUE(is_event(*first, "message", "{\"s\":\"\xEF\xBB\xBFhi\"}") ||
                is_event(*first, "message", R"({"s":"\ufeffhi"})") ||
                is_event(*first, "message", R"({"s":"\uFEFFhi"})"))
        << first->raw;
    EXPECT_EQ(first->json().at("s"), "\xEF\xBB\xBFhi");

    auto second = next();
    ASSERT_TRUE(second);
    EXPECT_EQ(second->json(), "\xEF\xBB\xBF") << second->raw;
    // Wherever U+FEFF appears raw, it is inside a data: value.
    const std::string& body = stream_->body();
    for (std::size_t at = body.find("\xEF\xBB\xBF"); at != std::string::npos;
         at = body.find("\xEF\xBB\xBF", at + 3)) {
        std::size_t line = body.rfind('\n', at);
        line = line == std::string::npos ? 0 : line + 1;
        EXPECT_EQ(body.compare(line, 5, "data:"), 0) << "a BOM outside data: at " << at;
    }
    EXPECT_NE(stream_->body().front(), '\xEF');
}

// F28: invalid UTF-8 in a message is refused with 400, and nothing is written.
TEST_P(FramingTest, InvalidUtf8InMessageIsRefused) {
    for (std::string_view bad : {"\xFF", "\xE2\x82", "\xED\xA0\x80", "\xC0\xAF"}) {
        http_response r = publish("{\"bad\":\"x" + std::string(bad) + "y\"}");
        EXPECT_TRUE(is_json_error(r, 400)) << "bytes " << ::testing::PrintToString(bad);
    }
    expect_nothing_written_before_marker();
}

// F28: a lone surrogate escape is refused, or kept as its six ASCII characters; it never
// reaches the wire as surrogate bytes or U+FFFD.
TEST_P(FramingTest, LoneSurrogateEscapeNeverBecomesBytes) {
    for (std::string_view lone : {R"(\ud800)", R"(\udc00)"}) {
        http_response r = publish("{\"lone\":\"" + std::string(lone) + "\"}");
        if (r.status == 200) {
            auto event = next();
            ASSERT_TRUE(event);
            EXPECT_TRUE(is_event(*event, "message", "{\"lone\":\"" + std::string(lone) + "\"}"))
                << "accepted lone surrogates must stay escaped";
        } else {
            EXPECT_TRUE(is_json_error(r, 400)) << lone;
        }
    }
    EXPECT_EQ(stream_->body().find("\xEF\xBF\xBD"), std::string::npos) << "U+FFFD was written";
}

// F28: the valid forms, escaped pair and raw bytes, are delivered as U+1F600.
TEST_P(FramingTest, ValidAstralCharacterIsDelivered) {
    for (std::string_view smile : {R"(\ud83d\ude00)", "\xF0\x9F\x98\x80"}) {
        http_response r = publish("{\"smile\":\"" + std::string(smile) + "\"}");
        ASSERT_EQ(r.status, 200) << r.body;
        auto event = next();
        ASSERT_TRUE(event);
        EXPECT_EQ(event->data_lines, 1u);
        EXPECT_EQ(event->json().at("smile"), "\xF0\x9F\x98\x80") << event->raw;
    }
}

// F28: an event name holding 0xFF is refused.
TEST_P(FramingTest, InvalidUtf8InEventNameIsRefused) {
    if (!takes_event()) {
        GTEST_SKIP() << "a push pin has no event name";
    }
    http_response r = publish(R"({"m":1})", "\"ev\xFF\"");
    EXPECT_TRUE(is_json_error(r, 400));
    expect_nothing_written_before_marker();
}

INSTANTIATE_TEST_SUITE_P(Routes, FramingTest,
                         ::testing::Values(route::rest_push, route::rest_broadcast, route::push_pin,
                                           route::broadcast_pin),
                         [](const auto& info) { return std::string(route_name(info.param)); });

/// The id half of F04 and F28: session and channel ids are checked instead.
class IdValidationTest : public hub_test {
protected:
    void SetUp() override {
        start({"--stream-keepalive", "1s"});
        stream_ = subscribe("/events?session=f&channel=c");
    }

    /// A subscription that must be refused before its 200.
    void expect_refused_subscription(const std::string& target, std::string_view path_prefix) {
        sse_stream refused(hub(), target);
        ASSERT_TRUE(refused.read_head(after(5s))) << target;
        refused.read_complete_body(after(5s));
        EXPECT_TRUE(is_json_error(refused.head(), refused.body(), 400)) << target;
        EXPECT_NE(refused.head().header("Content-Type"), "text/event-stream") << target;
        EXPECT_EQ(refused.body().find("retry:"), std::string::npos) << target;
        auto v = json::parse(refused.body(), ec_);
        if (!ec_ && v.is_object() && v.as_object().contains("error")) {
            std::string path(v.at("error").at("path").as_string());
            EXPECT_TRUE(path.starts_with(path_prefix)) << target << ": path " << path;
        }
    }

    std::unique_ptr<sse_stream> stream_;
    boost::system::error_code ec_;
};

TEST_F(IdValidationTest, LineBreakOrNulInIdsIsRefused) {
    expect_refused_subscription("/events?session=a%0Adata:x", "session");
    expect_refused_subscription("/events?session=ok1&channel=b%0D", "channel");
    expect_refused_subscription("/events?session=a%00", "session");

    http_response rest =
        http_request(hub(), "POST", "/api/v1/sessions/a%00/messages", R"({"message":{"m":1}})");
    EXPECT_TRUE(is_json_error(rest, 400)) << "NUL in the path's session id";

    http_response single = actions(pin("push", {{"id", "f\ndata:x"}, {"message", {{"m", 1}}}}));
    EXPECT_TRUE(is_json_error(single, 400, "properties.id"));

    http_response channel_pin = actions(pin("broadcast", {{"id", "c\r"}, {"message", {{"m", 1}}}}));
    EXPECT_TRUE(is_json_error(channel_pin, 400, "properties.id"));

    // In an array whose pin [1] is bad, pin [0] does not run either.
    json::array document{pin("push", {{"id", "f"}, {"message", {{"first", 1}}}}),
                         pin("push", {{"id", "f\r\nevent:admin"}, {"message", {{"m", 1}}}})};
    http_response array = actions(document);
    EXPECT_TRUE(is_json_error(array, 400, "[1].properties.id"));

    // Only keep-alives reached the subscriber; the marker is the first event.
    http_response marker = http_request(hub(), "POST", "/api/v1/sessions/f/messages",
                                        R"({"message":{"marker":true}})");
    ASSERT_EQ(marker.status, 200);
    auto event = stream_->next_event(after(5s));
    ASSERT_TRUE(event);
    EXPECT_TRUE(is_event(*event, "message", R"({"marker":true})"));
    for (const auto& frame : stream_->skipped()) {
        EXPECT_TRUE(frame.comment_only || frame.retry || frame.is_cursor()) << frame.raw;
    }

    // No refused id was left behind.
    http_response sessions = http_request(hub(), "GET", "/api/v1/sessions");
    EXPECT_FALSE(mentions(sessions.json(), "ok1")) << sessions.body;
    EXPECT_FALSE(mentions(sessions.json(), "a\ndata:x")) << sessions.body;
}

TEST_F(IdValidationTest, InvalidUtf8InSessionIdIsRefused) {
    expect_refused_subscription("/events?session=s%FF", "session");
}

} // namespace
} // namespace ssehub::test
