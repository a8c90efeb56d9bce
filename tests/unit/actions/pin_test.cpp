// SPDX-License-Identifier: Apache-2.0
#include "actions/pin.hpp"

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>

namespace {

namespace json = boost::json;
using namespace ssehub::actions;
using ssehub::errc;

// The folder of the four Digipair documentation examples: shared/ beside the clone, or
// SSEHUB_SHARED_DIR when the clone lives elsewhere.
std::filesystem::path digipair_dir() {
    if (const char* dir = std::getenv("SSEHUB_SHARED_DIR")) {
        return std::filesystem::path(dir) / "cases" / "digipair";
    }
    return std::filesystem::path(__FILE__).parent_path() / "../../../../shared/cases/digipair";
}

json::value example(const std::string& name) {
    const auto file = digipair_dir() / (name + ".json");
    std::ifstream in(file);
    EXPECT_TRUE(in) << "cannot read " << file;
    std::stringstream text;
    text << in.rdbuf();
    return json::parse(text.str());
}

pin_limits limits() {
    return {};
}

std::vector<pin> parsed(const json::value& doc) {
    auto r = parse_document(doc, limits());
    EXPECT_TRUE(r) << json::serialize(doc) << ": " << (r ? "" : r.error().path) << ": "
                   << (r ? "" : r.error().message);
    return r ? std::move(*r) : std::vector<pin>{};
}

std::vector<pin> parsed(const char* text) {
    return parsed(json::parse(text));
}

ssehub::error refused(const json::value& doc) {
    auto r = parse_document(doc, limits());
    EXPECT_FALSE(r) << json::serialize(doc) << " was accepted";
    return r ? ssehub::error{} : r.error();
}

ssehub::error refused(const char* text) {
    return refused(json::parse(text));
}

// A skill pin with `properties`, built in C++ so that strings may hold NUL and raw bytes.
json::object skill(std::string_view element, json::object properties) {
    return {{"library", "@digipair/skill-sse"},
            {"element", element},
            {"properties", std::move(properties)}};
}

template <class T> const T& only(const std::vector<pin>& pins) {
    EXPECT_EQ(pins.size(), 1u);
    static const T none{};
    if (pins.size() != 1 || !std::holds_alternative<T>(pins.front())) {
        ADD_FAILURE() << "not the expected element";
        return none;
    }
    return std::get<T>(pins.front());
}

TEST(ParseDocumentTest, DigipairExamplesValidateVerbatim) {
    const auto push = parsed(example("push"));
    const auto& p = only<push_pin>(push);
    EXPECT_EQ(p.id, "session_12345");
    EXPECT_EQ(p.message, json::parse(R"({"text":"Hello, world!"})"));
    EXPECT_EQ(p.ns.digipair, "dp_001");
    EXPECT_EQ(p.ns.reasoning, "greeting");

    const auto broadcast = parsed(example("broadcast"));
    const auto& b = only<broadcast_pin>(broadcast);
    EXPECT_EQ(b.id, "channel_abc");
    EXPECT_EQ(b.event, "update");
    EXPECT_EQ(b.ns.reasoning, "system");

    const auto channel = parsed(example("registerChannel"));
    const auto& c = only<register_channel_pin>(channel);
    EXPECT_EQ(c.id, "channel_abc");
    EXPECT_EQ(c.session, "session_12345");
    EXPECT_EQ(c.disconnected, json::parse(R"([{"type":"log","message":"Channel disconnected"}])"));

    const auto session = parsed(example("registerSession"));
    const auto& s = only<register_session_pin>(session);
    EXPECT_EQ(s.id, "session_12345");
    EXPECT_EQ(s.disconnected,
              json::parse(R"([{"type":"notify","message":"Session disconnected"}])"));
}

TEST(ParseDocumentTest, TheFourExamplesValidateTogetherAsAnArray) {
    json::array all{example("registerSession"), example("registerChannel"), example("push"),
                    example("broadcast")};
    EXPECT_EQ(parsed(json::value(all)).size(), 4u);
}

TEST(ParseDocumentTest, AppliesTheSkillsDefaults) {
    const auto pins = parsed(R"({"library":"@digipair/skill-sse","element":"broadcast",)"
                             R"("properties":{"message":1}})");
    const auto& b = only<broadcast_pin>(pins);
    EXPECT_EQ(b.id, "");
    EXPECT_EQ(b.event, "message");
    EXPECT_FALSE(b.ns.digipair);
    EXPECT_FALSE(b.ns.reasoning);

    const auto channel = parsed(R"({"library":"@digipair/skill-sse","element":"registerChannel"})");
    EXPECT_EQ(only<register_channel_pin>(channel).id, "");
    EXPECT_FALSE(only<register_channel_pin>(channel).session);
    EXPECT_TRUE(only<register_channel_pin>(channel).disconnected.is_null());
}

TEST(ParseDocumentTest, NullOptionalPropertiesCountAsAbsent) {
    const auto pins = parsed(
        skill("broadcast",
              {{"message", "m"}, {"event", nullptr}, {"id", nullptr}, {"digipair", nullptr}}));
    EXPECT_EQ(only<broadcast_pin>(pins).event, "message");
}

TEST(ParseDocumentTest, AcceptsTheSessionAsAnIdStringOrAnObject) {
    const auto by_string = parsed(skill("registerChannel", {{"session", "s1"}, {"id", "c"}}));
    EXPECT_EQ(only<register_channel_pin>(by_string).session, "s1");

    // registerSession's result can be passed on as it is: its other fields are ignored.
    const auto by_result = parsed(
        skill("registerChannel",
              {{"session", {{"id", "s1"}, {"connected", false}, {"lastEventId", nullptr}}}}));
    EXPECT_EQ(only<register_channel_pin>(by_result).session, "s1");
}

TEST(ParseDocumentTest, NativeLogAndClose) {
    const auto log = parsed(R"({"library":"ssehub","element":"log",)"
                            R"("properties":{"message":"hi","level":"warn"}})");
    EXPECT_EQ(only<log_pin>(log).message, "hi");
    EXPECT_EQ(only<log_pin>(log).level, log_level::warn);

    const auto by_default = parsed(R"({"library":"ssehub","element":"log",)"
                                   R"("properties":{"message":"hi"}})");
    EXPECT_EQ(only<log_pin>(by_default).level, log_level::info);

    const auto close = parsed(R"({"library":"ssehub","element":"close","properties":{"id":"s1"}})");
    EXPECT_EQ(only<close_pin>(close).id, "s1");
}

TEST(ParseDocumentTest, LogShorthandIsAcceptedAnywhere) {
    const auto pins = parsed(R"({"type":"log","message":"hello"})");
    EXPECT_EQ(only<log_pin>(pins).message, "hello");
}

TEST(ParseDocumentTest, NotifyShorthandIsRefusedOutsideDisconnected) {
    const auto e = refused(R"([{"type":"notify","message":"x"}])");
    EXPECT_EQ(e.code, errc::bad_request);
    EXPECT_EQ(e.path, "[0].type");
}

TEST(ParseDocumentTest, RefusesMissingRequiredValuesAtTheirPath) {
    struct row {
        const char* doc;
        const char* path;
    };

    // clang-format off
    const row rows[] = {
        {R"({"library":"@digipair/skill-sse","element":"push","properties":{"message":1}})",
         "properties.id"},
        {R"({"library":"@digipair/skill-sse","element":"push","properties":{"id":"s"}})",
         "properties.message"},
        {R"({"library":"@digipair/skill-sse","element":"push","properties":{"id":"s","message":null}})",
         "properties.message"},
        {R"({"library":"@digipair/skill-sse","element":"broadcast","properties":{"id":"c"}})",
         "properties.message"},
        {R"({"library":"@digipair/skill-sse","element":"broadcast"})", "properties.message"},
        {R"({"library":"@digipair/skill-sse","element":"registerSession","properties":{}})",
         "properties.id"},
        {R"({"library":"@digipair/skill-sse","element":"registerChannel","properties":{"session":{}}})",
         "properties.session.id"},
        {R"({"library":"ssehub","element":"close"})", "properties.id"},
        {R"({"library":"ssehub","element":"log","properties":{"level":"info"}})",
         "properties.message"},
        {R"({"element":"push"})", "library"},
        {R"({"library":"ssehub"})", "element"},
        {R"({"type":"log"})", "message"},
        {R"([{"type":"log","message":"ok"},{"library":"@digipair/skill-sse","element":"push","properties":{"message":1}}])",
         "[1].properties.id"},
    };
    // clang-format on
    for (const auto& r : rows) {
        const auto e = refused(r.doc);
        EXPECT_EQ(e.code, errc::bad_request) << r.doc;
        EXPECT_EQ(e.path, r.path) << r.doc;
        EXPECT_EQ(e.message, "is required") << r.doc;
    }
}

TEST(ParseDocumentTest, RefusesEachWrongTypeAtItsPath) {
    struct row {
        const char* doc;
        const char* path;
    };

    // clang-format off
    const row rows[] = {
        {R"("push")", "body"},
        {R"(42)", "body"},
        {R"([{"type":"log","message":"ok"},"push"])", "[1]"},
        {R"({"library":1,"element":"push"})", "library"},
        {R"({"library":"ssehub","element":true})", "element"},
        {R"({"library":"ssehub","element":"log","properties":[]})", "properties"},
        {R"({"library":"ssehub","element":"log","properties":{"message":1}})", "properties.message"},
        {R"({"library":"ssehub","element":"log","properties":{"message":"m","level":3}})", "properties.level"},
        {R"({"library":"ssehub","element":"close","properties":{"id":{"id":"s"}}})", "properties.id"},
        {R"({"library":"@digipair/skill-sse","element":"registerSession","properties":{"id":5}})", "properties.id"},
        {R"({"library":"@digipair/skill-sse","element":"registerSession","properties":{"id":"s","disconnected":{}}})", "properties.disconnected"},
        {R"({"library":"@digipair/skill-sse","element":"registerSession","properties":{"id":"s","disconnected":"log"}})", "properties.disconnected"},
        {R"({"library":"@digipair/skill-sse","element":"registerSession","properties":{"id":"s","disconnected":[1]}})", "properties.disconnected[0]"},
        {R"({"library":"@digipair/skill-sse","element":"registerSession","properties":{"id":"s","reasoning":[]}})", "properties.reasoning"},
        {R"({"library":"@digipair/skill-sse","element":"registerChannel","properties":{"session":7}})", "properties.session"},
        {R"({"library":"@digipair/skill-sse","element":"registerChannel","properties":{"session":["s"]}})", "properties.session"},
        {R"({"library":"@digipair/skill-sse","element":"registerChannel","properties":{"session":{"id":5}}})", "properties.session.id"},
        {R"({"library":"@digipair/skill-sse","element":"registerChannel","properties":{"id":["c"]}})", "properties.id"},
        {R"({"library":"@digipair/skill-sse","element":"registerChannel","properties":{"disconnected":true}})", "properties.disconnected"},
        {R"({"library":"@digipair/skill-sse","element":"push","properties":{"id":1,"message":1}})", "properties.id"},
        {R"({"library":"@digipair/skill-sse","element":"push","properties":{"id":"s","message":1,"digipair":2}})", "properties.digipair"},
        {R"({"library":"@digipair/skill-sse","element":"broadcast","properties":{"message":1,"event":1}})", "properties.event"},
        {R"({"library":"@digipair/skill-sse","element":"broadcast","properties":{"message":1,"id":false}})", "properties.id"},
        {R"({"library":"@digipair/skill-sse","element":"broadcast","properties":{"message":1,"reasoning":{}}})", "properties.reasoning"},
        {R"({"library":"ssehub","element":"log","properties":{"message":"m"},"conditions":"yes"})", "conditions"},
        {R"({"type":5,"message":"m"})", "type"},
        {R"({"type":"log","message":["m"]})", "message"},
    };
    // clang-format on
    for (const auto& r : rows) {
        const auto e = refused(r.doc);
        EXPECT_EQ(e.code, errc::bad_request) << r.doc;
        EXPECT_EQ(e.path, r.path) << r.doc;
        EXPECT_TRUE(e.message.starts_with("must be")) << r.doc << ": " << e.message;
    }
}

TEST(ParseDocumentTest, RefusesCrLfAndNulInEventNamesAndIds) {
    using namespace std::string_literals;
    for (const auto& bad : {"\n"s, "\r"s, "\r\n"s, "\0"s}) {
        SCOPED_TRACE(json::serialize(json::value(bad)));
        const auto event = "chat" + bad + "data:injected" + bad + bad + "event:admin";
        const auto id = "a" + bad + "data:x";

        auto e = refused(skill("broadcast", {{"message", {{"m", 1}}}, {"event", event}}));
        EXPECT_EQ(e.code, errc::bad_request);
        EXPECT_EQ(e.path, "properties.event");

        e = refused(skill("broadcast", {{"message", 1}, {"id", id}}));
        EXPECT_EQ(e.path, "properties.id");
        e = refused(skill("push", {{"message", 1}, {"id", id}}));
        EXPECT_EQ(e.path, "properties.id");
        e = refused(skill("registerSession", {{"id", id}}));
        EXPECT_EQ(e.path, "properties.id");
        e = refused(skill("registerChannel", {{"id", id}}));
        EXPECT_EQ(e.path, "properties.id");
        e = refused(skill("registerChannel", {{"session", id}}));
        EXPECT_EQ(e.path, "properties.session");
        e = refused(skill("registerChannel", {{"session", {{"id", id}}}}));
        EXPECT_EQ(e.path, "properties.session.id");
        e = refused(skill("push", {{"message", 1}, {"id", "s"}, {"digipair", id}}));
        EXPECT_EQ(e.path, "properties.digipair");

        // In an array, the path names the pin, and pin [0] is refused with it (F04).
        json::array doc{skill("push", {{"id", "s"}, {"message", 1}}),
                        skill("push", {{"id", id}, {"message", 1}})};
        e = refused(json::value(doc));
        EXPECT_EQ(e.path, "[1].properties.id");
    }
}

TEST(ParseDocumentTest, EventNamesAreKeptExactlyOrRefused) {
    for (const auto* name : {"success", "Success", "order updated"}) {
        const auto pins = parsed(skill("broadcast", {{"message", 1}, {"event", name}}));
        EXPECT_EQ(only<broadcast_pin>(pins).event, name);
    }
    const auto empty = parsed(skill("broadcast", {{"message", 1}, {"event", ""}}));
    EXPECT_EQ(only<broadcast_pin>(empty).event, "message");

    for (const auto* name : {"success ", " success", "success\t", "\xff"}) {
        const auto e = refused(skill("broadcast", {{"message", 1}, {"event", name}}));
        EXPECT_EQ(e.path, "properties.event") << name;
    }

    const std::string long_name(65, 'e');
    EXPECT_EQ(refused(skill("broadcast", {{"message", 1}, {"event", long_name}})).path,
              "properties.event");
}

TEST(ParseDocumentTest, RefusesIdsTheHubWouldRefuse) {
    EXPECT_EQ(refused(skill("push", {{"id", ""}, {"message", 1}})).path, "properties.id");
    EXPECT_EQ(refused(skill("push", {{"id", "a b"}, {"message", 1}})).path, "properties.id");
    EXPECT_EQ(refused(skill("push", {{"id", std::string(129, 'x')}, {"message", 1}})).path,
              "properties.id");
    EXPECT_EQ(refused(skill("registerSession", {{"id", "s\xff"}})).path, "properties.id");
}

TEST(ParseDocumentTest, RefusesUnknownLibrariesAndElements) {
    auto e = refused(R"({"library":"@digipair/skill-web","element":"page"})");
    EXPECT_EQ(e.code, errc::bad_request);
    EXPECT_EQ(e.path, "library");
    EXPECT_NE(e.message.find("actions.forward_url"), std::string::npos) << e.message;

    e = refused(R"([{"library":"@digipair/skill-sse","element":"pushAll"}])");
    EXPECT_EQ(e.code, errc::bad_request);
    EXPECT_EQ(e.path, "[0].element");

    e = refused(R"({"library":"ssehub","element":"exec"})");
    EXPECT_EQ(e.path, "element");

    e = refused(R"({"type":"email","message":"m"})");
    EXPECT_EQ(e.path, "type");

    // A value is echoed in the message only when it is printable.
    e = refused(R"({"library":"ssehub","element":"lo\ng"})");
    EXPECT_EQ(e.message.find('\n'), std::string::npos) << e.message;
}

TEST(ParseDocumentTest, RefusesUnknownPropertiesAndFields) {
    auto e = refused(R"({"library":"@digipair/skill-sse","element":"push",)"
                     R"("properties":{"id":"s","mesage":1}})");
    EXPECT_EQ(e.path, "properties.mesage");

    // push takes no event: a typo'd broadcast would otherwise lose its name in silence.
    e = refused(R"({"library":"@digipair/skill-sse","element":"push",)"
                R"("properties":{"id":"s","message":1,"event":"x"}})");
    EXPECT_EQ(e.path, "properties.event");

    e = refused(R"([{"type":"log","message":"m","level":"warn"}])");
    EXPECT_EQ(e.path, "[0].level");

    e = refused(R"({"library":"ssehub","element":"log","propertes":{}})");
    EXPECT_EQ(e.path, "propertes");
}

TEST(ParseDocumentTest, ConditionsIfSkipsAPinAndRefusesExpressions) {
    EXPECT_EQ(parsed(R"({"library":"ssehub","element":"log","properties":{"message":"m"},)"
                     R"("conditions":{}})")
                  .size(),
              1u);
    auto skipped = parsed(R"([{"library":"ssehub","element":"log","properties":{"message":"m"},)"
                          R"("conditions":{"if":false}},{"library":"ssehub","element":"log",)"
                          R"("properties":{"message":"m"},"conditions":{"if":"true"}}])");
    ASSERT_EQ(skipped.size(), 2u);
    EXPECT_EQ(std::get<skipped_pin>(skipped[0]).element, "log");
    EXPECT_TRUE(std::holds_alternative<log_pin>(skipped[1]));

    // A skipped pin is still checked in full.
    auto e = refused(R"({"library":"ssehub","element":"log","conditions":{"if":false}})");
    EXPECT_EQ(e.path, "properties.message");

    e = refused(R"([{"library":"ssehub","element":"log","properties":{"message":"m"},)"
                R"("conditions":{"if":"session.id = 'a'"}}])");
    EXPECT_EQ(e.code, errc::bad_request);
    EXPECT_EQ(e.path, "[0].conditions.if");
    EXPECT_NE(e.message.find("expression"), std::string::npos) << e.message;

    e = refused(R"({"library":"ssehub","element":"log","properties":{"message":"m"},)"
                R"("conditions":{"while":[1,2]}})");
    EXPECT_EQ(e.path, "conditions.while");
}

// conditions.each, as the Digipair engine reads it: the pin once per item, `{{item}}` in its
// context, its `if` decided per item; an empty list runs nothing.
TEST(ParseDocumentTest, ConditionsEachMakesOneRunPerItem) {
    auto pins = parsed(R"({"library":"@digipair/skill-sse","element":"push",)"
                       R"("properties":{"id":"{{item.who}}","message":"hi {{item.who}}"},)"
                       R"("conditions":{"each":[{"who":"a"},{"who":"b"},{"who":"c"}],)"
                       R"("if":"{{item.who}}"}})");
    ASSERT_EQ(pins.size(), 1u);
    const auto& each = std::get<each_pin>(pins[0]);
    ASSERT_EQ(each.runs.size(), 3u);
    EXPECT_EQ(std::get<push_pin>(each.runs[0]).id, "a");
    EXPECT_EQ(std::get<push_pin>(each.runs[2]).message, json::value("hi c"));

    // The condition sees the item: an empty one skips that run only.
    pins = parsed(R"({"library":"ssehub","element":"log","properties":{"message":"{{item}}"},)"
                  R"("conditions":{"each":["x","","y"],"if":"{{item}}"}})");
    const auto& some = std::get<each_pin>(pins[0]);
    ASSERT_EQ(some.runs.size(), 3u);
    EXPECT_EQ(std::get<log_pin>(some.runs[0]).message, "x");
    EXPECT_TRUE(std::holds_alternative<skipped_pin>(some.runs[1]));
    EXPECT_EQ(std::get<log_pin>(some.runs[2]).message, "y");

    pins = parsed(R"({"library":"ssehub","element":"log","properties":{"message":"m"},)"
                  R"("conditions":{"each":[]}})");
    EXPECT_TRUE(std::get<each_pin>(pins[0]).runs.empty()) << "an empty list runs nothing";
}

TEST(ParseDocumentTest, ConditionsEachRefusesWhatItCannotIterate) {
    // Each item is checked like the pin it makes, with the item's path-free error.
    auto e = refused(R"([{"library":"@digipair/skill-sse","element":"push",)"
                     R"("properties":{"id":"{{item}}","message":1},)"
                     R"("conditions":{"each":["ok","bad\nid"]}}])");
    EXPECT_EQ(e.path, "[0].properties.id");

    e = refused(R"({"library":"ssehub","element":"log","properties":{"message":"m"},)"
                R"("conditions":{"each":"items + 1"}})");
    EXPECT_EQ(e.path, "conditions.each");
    EXPECT_NE(e.message.find("FEEL"), std::string::npos) << e.message;

    e = refused(R"({"library":"ssehub","element":"log","properties":{"message":"m"},)"
                R"("conditions":{"each":3}})");
    EXPECT_EQ(e.path, "conditions.each");

    // A request has no session: session.id names no list.
    e = refused(R"({"library":"ssehub","element":"log","properties":{"message":"m"},)"
                R"("conditions":{"each":"{{session.id}}"}})");
    EXPECT_EQ(e.path, "conditions.each");

    // {{item}} outside each is refused, naming where it exists.
    e = refused(R"({"library":"ssehub","element":"log","properties":{"message":"{{item}}"}})");
    EXPECT_EQ(e.path, "properties.message");
    EXPECT_NE(e.message.find("conditions.each"), std::string::npos) << e.message;

    json::array many;
    for (std::size_t i = 0; i <= max_each_items; ++i) {
        many.push_back(static_cast<std::int64_t>(i));
    }
    json::value doc = json::parse(R"({"library":"ssehub","element":"log",)"
                                  R"("properties":{"message":"m"}})");
    doc.as_object()["conditions"] = json::object{{"each", many}};
    e = refused(doc);
    EXPECT_EQ(e.code, errc::limit_exceeded);
    EXPECT_EQ(e.path, "conditions.each");
}

// A disconnected list names its lists with {{previous.x}} or {{token.x}}: they are known
// only when it runs, so registration checks the pin once with a stand-in item.
TEST(CheckDisconnectedTest, EachOverANamedListIsCheckedWithAStandIn) {
    EXPECT_TRUE(check_disconnected(
        json::parse(R"([{"library":"@digipair/skill-sse","element":"push",)"
                    R"("properties":{"id":"{{item.id}}","message":"{{previous.eventId}}"},)"
                    R"("conditions":{"each":"{{previous.sessions}}"}}])"),
        "disconnected", limits()));
    auto r = check_disconnected(
        json::parse(R"([{"library":"@digipair/skill-sse","element":"push",)"
                    R"("properties":{"message":1},"conditions":{"each":"{{token.rooms}}"}}])"),
        "disconnected", limits());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().path, "disconnected[0].properties.id");
}

// In a disconnected list the condition sees the ending session.
TEST(ParsePinTest, ConditionsIfRendersWithTheContext) {
    const auto doc =
        json::parse(R"({"library":"ssehub","element":"log",)"
                    R"("properties":{"message":"m"},"conditions":{"if":"{{channel.id}}"}})");
    const parse_options in_room{
        limits(), pin_scope::session_end, {"s", "room", "kicked", nullptr, false}};
    const parse_options own{limits(), pin_scope::session_end, {"s", "", "kicked", nullptr, false}};
    auto r = parse_pin(doc, "disconnected[0]", in_room);
    ASSERT_TRUE(r);
    EXPECT_TRUE(std::holds_alternative<log_pin>(*r));
    r = parse_pin(doc, "disconnected[0]", own);
    ASSERT_TRUE(r);
    EXPECT_TRUE(std::holds_alternative<skipped_pin>(*r));
}

TEST(ParseDocumentTest, NestedDisconnectedErrorsCarryTheFullPath) {
    auto e = refused(R"([{"library":"@digipair/skill-sse","element":"registerSession",)"
                     R"("properties":{"id":"s","disconnected":[{"type":"log","message":"m"},)"
                     R"({"library":"ssehub","element":"nope"}]}}])");
    EXPECT_EQ(e.path, "[0].properties.disconnected[1].element");

    e = refused(R"({"library":"@digipair/skill-sse","element":"registerChannel",)"
                R"("properties":{"disconnected":[{"library":"@digipair/skill-sse",)"
                R"("element":"broadcast","properties":{"id":"c","message":1,"event":"a\nb"}}]}})");
    EXPECT_EQ(e.path, "properties.disconnected[0].properties.event");

    // A pin of a disconnected list may register a session with its own list.
    e = refused(R"({"library":"@digipair/skill-sse","element":"registerSession",)"
                R"("properties":{"id":"s","disconnected":[{"library":"@digipair/skill-sse",)"
                R"("element":"registerSession","properties":{"id":"t","disconnected":[)"
                R"({"type":"log","message":"ok"},{"type":"mail","message":"m"}]}}]}})");
    EXPECT_EQ(e.path, "properties.disconnected[0].properties.disconnected[1].type");
}

TEST(ParseDocumentTest, RefusesDisconnectedListsNestedTooDeep) {
    json::value pin = json::parse(R"({"type":"log","message":"m"})");
    for (int i = 0; i < 12; ++i) {
        pin = skill("registerSession", {{"id", "s"}, {"disconnected", json::array{pin}}});
    }
    const auto e = refused(pin);
    EXPECT_NE(e.message.find("nested"), std::string::npos) << e.message;
}

TEST(ParseDocumentTest, KeepsDisconnectedAsWrittenAndAnEmptyListAsAnArray) {
    const auto pins = parsed(R"({"library":"@digipair/skill-sse","element":"registerSession",)"
                             R"("properties":{"id":"s","disconnected":[{"type":"log",)"
                             R"("message":"bye {{session.id}}"}]}})");
    EXPECT_EQ(only<register_session_pin>(pins).disconnected,
              json::parse(R"([{"type":"log","message":"bye {{session.id}}"}])"));

    // An empty list clears the stored actions; null (absent) keeps them.
    const auto empty =
        parsed(skill("registerSession", {{"id", "s"}, {"disconnected", json::array{}}}));
    EXPECT_TRUE(only<register_session_pin>(empty).disconnected.is_array());
    const auto absent = parsed(skill("registerSession", {{"id", "s"}}));
    EXPECT_TRUE(only<register_session_pin>(absent).disconnected.is_null());
}

TEST(ParseDocumentTest, ChecksTemplatesOfDisconnectedPinsWhenRegistered) {
    auto e = refused(R"({"library":"@digipair/skill-sse","element":"registerSession",)"
                     R"("properties":{"id":"s","disconnected":[{"type":"notify",)"
                     R"("message":{"text":"{{session.name}}"}}]}})");
    EXPECT_EQ(e.path, "properties.disconnected[0].message.text");

    e = refused(R"({"library":"@digipair/skill-sse","element":"registerSession",)"
                R"("properties":{"id":"s","disconnected":[{"library":"@digipair/skill-sse",)"
                R"("element":"push","properties":{"id":"{{session.id","message":1}}]}})");
    EXPECT_EQ(e.path, "properties.disconnected[0].properties.id");

    // A template renders before the value is checked, so a line break beside it is caught.
    e = refused(R"({"library":"@digipair/skill-sse","element":"registerSession",)"
                R"("properties":{"id":"s","disconnected":[{"library":"@digipair/skill-sse",)"
                R"("element":"broadcast","properties":{"message":1,)"
                R"("event":"left\n{{session.id}}"}}]}})");
    EXPECT_EQ(e.path, "properties.disconnected[0].properties.event");

    EXPECT_EQ(parsed(R"({"library":"@digipair/skill-sse","element":"registerSession",)"
                     R"("properties":{"id":"s","disconnected":[{"library":"@digipair/skill-sse",)"
                     R"("element":"broadcast","properties":{"id":"{{channel.id}}",)"
                     R"("message":{"who":"{{session.id}}","why":"{{ reason }}"}}}]}})")
                  .size(),
              1u);
}

TEST(ParseDocumentTest, RequestPinsHaveNoTemplateVariablesButHonourNoeval) {
    auto e = refused(R"({"library":"@digipair/skill-sse","element":"push",)"
                     R"("properties":{"id":"s","message":{"t":"{{session.id}}"}}})");
    EXPECT_EQ(e.path, "properties.message.t");

    const auto pins = parsed(R"({"library":"@digipair/skill-sse","element":"push",)"
                             R"("properties":{"id":"NOEVAL:s1","message":"NOEVAL:{{x}}"}})");
    EXPECT_EQ(only<push_pin>(pins).id, "s1");
    EXPECT_EQ(only<push_pin>(pins).message, json::value("{{x}}"));
}

TEST(ParseDocumentTest, RefusesInvalidUtf8InAMessageBuiltInCode) {
    auto e = refused(skill("push", {{"id", "s"}, {"message", {{"text", "a\xff"}}}}));
    EXPECT_EQ(e.code, errc::bad_request);
    EXPECT_EQ(e.path, "properties.message.text");

    e = refused(skill("broadcast", {{"message", json::array{"ok", "\xed\xa0\x80"}}}));
    EXPECT_EQ(e.path, "properties.message[1]");

    e = refused(skill("broadcast", {{"message", {{"k\xc0\xaf", 1}}}}));
    // The path lands in a JSON error body, so it names the object, not the invalid bytes.
    EXPECT_EQ(e.path, "properties.message");
    EXPECT_NE(e.message.find("key"), std::string::npos);

    e = refused(skill("push", {{"id", "s"}, {"message", 1}, {"\xff", 1}}));
    EXPECT_EQ(e.path, "properties");

    EXPECT_EQ(parsed(skill("push", {{"id", "s"}, {"message", "\xf0\x9f\x98\x80"}})).size(), 1u);
}

pin_limits allowing(std::vector<std::string> prefixes) {
    pin_limits l;
    l.webhook_allow = std::move(prefixes);
    return l;
}

TEST(WebhookPinTest, AcceptsAUrlUnderAnAllowedPrefixWithOrWithoutBody) {
    auto r = parse_document(json::parse(R"([{"library":"ssehub","element":"webhook",)"
                                        R"("properties":{"url":"http://127.0.0.1:9000/left"}},)"
                                        R"({"library":"ssehub","element":"webhook",)"
                                        R"("properties":{"url":"http://127.0.0.1:9000/b",)"
                                        R"("body":{"k":"NOEVAL:{{x}}"}}}])"),
                            allowing({"http://127.0.0.1:9000/"}));
    ASSERT_TRUE(r) << r.error().path << ": " << r.error().message;
    ASSERT_EQ(r->size(), 2u);
    const auto& first = std::get<webhook_pin>((*r)[0]);
    EXPECT_EQ(first.url, "http://127.0.0.1:9000/left");
    EXPECT_FALSE(first.body.has_value());
    EXPECT_EQ(std::get<webhook_pin>((*r)[1]).body, json::parse(R"({"k":"{{x}}"})"));
}

// The allow-list decides at registration, and the error names the offending property
// with its full path (DESIGN.md section 5).
TEST(WebhookPinTest, RefusesAUrlOutsideTheAllowListAtItsPath) {
    const auto limits = allowing({"http://127.0.0.1:9000/hooks/"});
    const auto doc = json::parse(R"({"library":"@digipair/skill-sse","element":"registerSession",)"
                                 R"("properties":{"id":"s","disconnected":[{"type":"log",)"
                                 R"("message":"a"},{"library":"ssehub","element":"webhook",)"
                                 R"("properties":{"url":"http://127.0.0.1:9000/other"}}]}})");
    auto r = parse_document(doc, limits);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::forbidden);
    EXPECT_EQ(r.error().path, "properties.disconnected[1].properties.url");

    auto checked = check_disconnected(json::parse(R"([{"library":"ssehub","element":"webhook",)"
                                                  R"("properties":{"url":"http://10.0.0.1/"}}])"),
                                      "disconnected", {});
    ASSERT_FALSE(checked);
    EXPECT_EQ(checked.error().path, "disconnected[0].properties.url");
    EXPECT_NE(checked.error().message.find("webhooks.allow"), std::string::npos)
        << checked.error().message;
}

TEST(WebhookPinTest, RefusesMissingUrlsOtherSchemesAndUnknownProperties) {
    const auto limits = allowing({"http://127.0.0.1:9000/", "https://127.0.0.1:9443/"});
    auto e = parse_document(json::parse(R"({"library":"ssehub","element":"webhook"})"), limits);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().path, "properties.url");

    // https:// is a webhook like http://; other schemes are refused.
    EXPECT_TRUE(parse_document(json::parse(R"({"library":"ssehub","element":"webhook",)"
                                           R"("properties":{"url":"https://127.0.0.1:9443/x"}})"),
                               limits));
    e = parse_document(json::parse(R"({"library":"ssehub","element":"webhook",)"
                                   R"("properties":{"url":"ftp://127.0.0.1:9443/x"}})"),
                       allowing({"ftp://127.0.0.1:9443/"}));
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().path, "properties.url");

    e = parse_document(
        json::parse(R"({"library":"ssehub","element":"webhook",)"
                    R"("properties":{"url":"http://127.0.0.1:9000/","method":"GET"}})"),
        limits);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().path, "properties.method");

    // A template in the body is checked like any other.
    e = parse_document(json::parse(R"({"library":"ssehub","element":"webhook",)"
                                   R"("properties":{"url":"http://127.0.0.1:9000/",)"
                                   R"("body":{"a":["{{session.id}}"]}}})"),
                       limits);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().path, "properties.body.a[0]");
}

// With actions.forward_url set, a pin of another library is kept as written, to be sent
// on; nested in a disconnected list, too.
TEST(ForwardPinTest, OtherLibrariesAreAcceptedOnlyWhenForwardingIsOn) {
    const auto doc = json::parse(R"({"library":"@digipair/skill-sse","element":"registerSession",)"
                                 R"("properties":{"id":"s","disconnected":[{"library":)"
                                 R"("@digipair/skill-web","element":"page","properties":)"
                                 R"({"x":"{{anything}}"}}]}})");
    auto refused_here = parse_document(doc, limits());
    ASSERT_FALSE(refused_here);
    EXPECT_EQ(refused_here.error().path, "properties.disconnected[0].library");

    pin_limits forwarding;
    forwarding.forward = true;
    EXPECT_TRUE(parse_document(doc, forwarding));
    const auto other = json::parse(R"({"library":"@digipair/skill-web","element":"page"})");
    auto r = parse_document(other, forwarding);
    ASSERT_TRUE(r);
    EXPECT_EQ(std::get<forward_pin>(r->front()).document, other);
}

TEST(ParseDocumentTest, RefusesAMessageOverTheLimit) {
    pin_limits small;
    small.message_limit = 16;
    const auto doc = json::value(skill("push", {{"id", "s"}, {"message", std::string(20, 'x')}}));
    auto r = parse_document(doc, small);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::payload_too_large);
    EXPECT_EQ(r.error().path, "properties.message");
}

TEST(CheckDisconnectedTest, NamesTheOffendingValueUnderTheListsPath) {
    auto r = check_disconnected(json::parse(R"([{"type":"log","message":"a"},)"
                                            R"({"type":"notify","message":"b"},)"
                                            R"({"type":"sms","message":"c"}])"),
                                "disconnected", limits());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().path, "disconnected[2].type");

    r = check_disconnected(json::parse(R"([{"library":"ssehub","element":"close"}])"),
                           "disconnected", limits());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().path, "disconnected[0].properties.id");

    r = check_disconnected(json::parse(R"({"type":"log"})"), "disconnected", limits());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().path, "disconnected");
}

TEST(CheckDisconnectedTest, AcceptsNullAndTheDocumentationsShorthands) {
    EXPECT_TRUE(check_disconnected(nullptr, "disconnected", limits()));
    EXPECT_TRUE(check_disconnected(json::array{}, "disconnected", limits()));
    EXPECT_TRUE(check_disconnected(json::parse(R"([{"type":"notify","message":"Session )"
                                               R"(disconnected"},{"type":"log","message":)"
                                               R"("Channel disconnected"}])"),
                                   "disconnected", limits()));
}

TEST(ParsePinTest, RendersWithTheContextItIsGiven) {
    const parse_options options{
        limits(), pin_scope::session_end, {"s9", "room", "kicked", nullptr, false}};
    auto r = parse_pin(json::parse(R"({"library":"@digipair/skill-sse","element":"broadcast",)"
                                   R"("properties":{"id":"{{channel.id}}","event":"left",)"
                                   R"("message":{"who":"{{session.id}}","why":"{{reason}}"}}})"),
                       "disconnected[0]", options);
    ASSERT_TRUE(r) << r.error().message;
    const auto& b = std::get<broadcast_pin>(*r);
    EXPECT_EQ(b.id, "room");
    EXPECT_EQ(b.message, json::parse(R"({"who":"s9","why":"kicked"})"));
}

TEST(ParsePinTest, AnIdTooLongAfterRenderingIsRefusedWhenItRuns) {
    const std::string long_id(120, 's');
    const parse_options options{
        limits(), pin_scope::session_end, {long_id, "", "kicked", nullptr, false}};
    auto r = parse_pin(json::parse(R"({"library":"@digipair/skill-sse","element":"push",)"
                                   R"("properties":{"id":"x-{{session.id}}-{{session.id}}",)"
                                   R"("message":1}})"),
                       "disconnected[1]", options);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().path, "disconnected[1].properties.id");
}

TEST(PinNamespaceTest, ReplacesOnlyTheNamedPartsAndKeepsTheTenant) {
    const ssehub::namespace_id fallback{"acme", "dp", "r"};
    EXPECT_EQ((pin_namespace{}.resolve(fallback)), fallback);
    EXPECT_EQ((pin_namespace{"dp_001", std::nullopt}.resolve(fallback)),
              (ssehub::namespace_id{"acme", "dp_001", "r"}));
    EXPECT_EQ((pin_namespace{"dp_001", "greeting"}.resolve(fallback)),
              (ssehub::namespace_id{"acme", "dp_001", "greeting"}));
}

TEST(PinNameTest, NamesEachElement) {
    EXPECT_EQ(pin_name(pin{push_pin{}}), "push");
    EXPECT_EQ(pin_name(pin{register_session_pin{}}), "registerSession");
    EXPECT_EQ(pin_name(pin{notify_pin{}}), "notify");
}

} // namespace
