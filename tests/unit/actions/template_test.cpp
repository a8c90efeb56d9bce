// SPDX-License-Identifier: Apache-2.0
#include "actions/template.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace {

namespace json = boost::json;
using ssehub::errc;
using ssehub::actions::is_template;
using ssehub::actions::render;
using ssehub::actions::render_json;
using ssehub::actions::template_context;

template_context ended(std::string_view channel = "") {
    return {"s1", channel, "kicked", nullptr, false};
}

std::string rendered(std::string_view text, const template_context& context = ended("room")) {
    auto r = render(text, context, "p");
    EXPECT_TRUE(r) << text << ": " << (r ? "" : r.error().message);
    return r ? *r : std::string();
}

ssehub::error failure(std::string_view text, const template_context& context = ended("room")) {
    auto r = render(text, context, "properties.message");
    EXPECT_FALSE(r) << text << " rendered as " << (r ? *r : "");
    return r ? ssehub::error{} : r.error();
}

TEST(TemplateTest, ReplacesTheSessionChannelAndReason) {
    EXPECT_EQ(rendered("{{session.id}} left {{channel.id}}: {{reason}}"), "s1 left room: kicked");
}

TEST(TemplateTest, AllowsSpacesInsideTheBraces) {
    EXPECT_EQ(rendered("[{{ session.id }}]"), "[s1]");
    EXPECT_EQ(rendered("{{\treason\t}}"), "kicked");
}

TEST(TemplateTest, ChannelIdIsEmptyInASessionsOwnList) {
    EXPECT_EQ(rendered("<{{channel.id}}>", ended("")), "<>");
}

TEST(TemplateTest, TextWithoutPlaceholdersIsUnchanged) {
    EXPECT_EQ(rendered("Session disconnected"), "Session disconnected");
    EXPECT_EQ(rendered(""), "");
    EXPECT_EQ(rendered("a } b }} c {"), "a } b }} c {");
}

TEST(TemplateTest, NoevalIsLiteralWithThePrefixRemoved) {
    EXPECT_EQ(rendered("NOEVAL:{{session.id}} and {{nope"), "{{session.id}} and {{nope");
    EXPECT_EQ(rendered("NOEVAL:"), "");

    // Only a prefix counts: elsewhere the word is ordinary text.
    EXPECT_EQ(rendered("x NOEVAL:{{reason}}"), "x NOEVAL:kicked");
}

TEST(TemplateTest, RefusesAnUnknownVariableWithThePath) {
    const auto e = failure("hello {{user.name}}");
    EXPECT_EQ(e.code, errc::bad_request);
    EXPECT_EQ(e.path, "properties.message");
    EXPECT_NE(e.message.find("user.name"), std::string::npos) << e.message;
}

TEST(TemplateTest, RefusesAnUnterminatedPlaceholder) {
    const auto e = failure("hello {{session.id");
    EXPECT_EQ(e.path, "properties.message");
    EXPECT_NE(e.message.find("unterminated"), std::string::npos) << e.message;
}

TEST(TemplateTest, RefusesAVariableTheContextDoesNotHave) {
    const auto e = failure("{{session.id}}", template_context::request());
    EXPECT_NE(e.message.find("not available"), std::string::npos) << e.message;
}

// item, previous and token walk a JSON value; each exists only where it has a value, and
// a missing name below one renders as "".
TEST(TemplateTest, ItemPreviousAndTokenWalkTheirValues) {
    auto e = failure("{{token.sub}}", template_context::request());
    EXPECT_NE(e.message.find("subscriber"), std::string::npos) << e.message;
    e = failure("{{item}}");
    EXPECT_NE(e.message.find("conditions.each"), std::string::npos) << e.message;
    e = failure("{{previous.id}}", template_context::request());
    EXPECT_NE(e.message.find("list of pins"), std::string::npos) << e.message;

    const auto item = json::parse(R"({"name":"a","tags":["x"]})");
    const auto previous = json::parse(R"({"delivered":2,"eventId":null})");
    const auto token = json::parse(R"({"sub":"alice","scope":{"room":"r1"}})");
    auto context = ended("room");
    context.item = &item;
    context.previous = &previous;
    context.token = &token;
    EXPECT_EQ(rendered("{{item.name}}/{{item.tags}}/{{previous.delivered}}/{{previous.eventId}}/"
                       "{{token.sub}}/{{token.scope.room}}/{{token.missing}}",
                       context),
              R"(a/["x"]/2//alice/r1/)");
    EXPECT_EQ(rendered("{{item}}", context), R"({"name":"a","tags":["x"]})");

    // At registration they stand in as their last word.
    EXPECT_EQ(rendered("{{previous.eventId}}-{{token.sub}}", template_context::probe()),
              "eventId-sub");
}

// resolve() keeps the JSON value of one variable, so conditions.each gets an array.
TEST(TemplateTest, ResolveNamesAnArray) {
    const auto previous = json::parse(R"({"list":[1,2],"one":3})");
    auto context = ended("room");
    context.previous = &previous;
    auto r = ssehub::actions::resolve("{{previous.list}}", context, "each");
    ASSERT_TRUE(r);
    EXPECT_EQ(**r, json::parse("[1,2]"));
    EXPECT_FALSE(ssehub::actions::resolve("{{previous.one}}", context, "each"));
    EXPECT_FALSE(ssehub::actions::resolve("{{previous.none}}", context, "each"));
    EXPECT_FALSE(ssehub::actions::resolve("{{reason}}", context, "each"));
    EXPECT_FALSE(ssehub::actions::resolve("x {{previous.list}}", context, "each"));
    r = ssehub::actions::resolve("{{previous.list}}", template_context::probe(), "each");
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, template_context::unknown());
}

TEST(TemplateTest, RequestVariablesExistOnlyInConnectActions) {
    const auto e = failure("{{request.body.userId}}");
    EXPECT_NE(e.message.find("connect actions"), std::string::npos) << e.message;

    const auto request = json::parse(R"({"query":{"lang":"fr"},"headers":{"x-team":"blue"},)"
                                     R"("body":{"userId":"u1","n":{"k":2}}})");
    template_context connect{"s1", std::nullopt, std::nullopt, &request, false};
    EXPECT_EQ(rendered("{{request.body.userId}}/{{request.query.lang}}/{{request.headers.x-team}}",
                       connect),
              "u1/fr/blue");
    EXPECT_EQ(rendered("[{{request.body.missing}}]", connect), "[]");
    EXPECT_EQ(rendered("{{request.body.n}}", connect), R"({"k":2})");
    EXPECT_EQ(rendered("{{session.id}}", connect), "s1");

    // At start-up a missing name stands in as its last word, so an id built from it checks.
    EXPECT_EQ(rendered("{{request.body.userId}}", template_context::probe_connect()), "userId");
}

// What the hub cannot evaluate is refused with the path, never sent as text.
TEST(TemplateTest, RefusesFeelAndExpressionsWithThePath) {
    auto e = failure("EVALUATE:session.id = 'a'");
    EXPECT_EQ(e.code, errc::bad_request);
    EXPECT_EQ(e.path, "properties.message");
    EXPECT_NE(e.message.find("FEEL"), std::string::npos) << e.message;

    for (const auto* text : {"{{session.id + 1}}", "{{#if reason}}x{{/if}}", "{{size(channels)}}",
                             "{{session..id}}", "{{.reason}}"}) {
        e = failure(text);
        EXPECT_EQ(e.path, "properties.message") << text;
        EXPECT_NE(e.message.find("expression"), std::string::npos) << text << ": " << e.message;
    }
    EXPECT_EQ(rendered("NOEVAL:EVALUATE:x"), "EVALUATE:x");
}

TEST(TemplateTest, ProbeRendersEveryVariable) {
    EXPECT_TRUE(render("{{session.id}}{{channel.id}}{{reason}}", template_context::probe(), ""));
}

TEST(TemplateTest, IsTemplateSpotsPlaceholdersAndNoeval) {
    EXPECT_TRUE(is_template("a {{b}}"));
    EXPECT_TRUE(is_template("NOEVAL:x"));
    EXPECT_FALSE(is_template("plain { text }"));
}

TEST(RenderJsonTest, RendersStringsAtEveryDepthAndLeavesKeysAlone) {
    const auto in = json::parse(R"({"{{reason}}":"{{session.id}}","n":1,"list":[true,null,)"
                                R"("{{channel.id}}",{"deep":"NOEVAL:{{x}}"}]})");
    auto out = render_json(in, ended("room"), "properties.message");
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(*out, json::parse(R"({"{{reason}}":"s1","n":1,"list":[true,null,"room",)"
                                R"({"deep":"{{x}}"}]})"));
}

TEST(RenderJsonTest, ErrorNamesTheNestedString) {
    const auto in = json::parse(R"({"items":["ok",{"text":"{{nope}}"}]})");
    auto out = render_json(in, ended(), "properties.message");
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().path, "properties.message.items[1].text");
}

TEST(RenderJsonTest, ValuesWithoutStringsAreCopiedUnchanged) {
    for (const auto* text : {"42", "null", "[1,2.5,false]", R"("plain")"}) {
        auto out = render_json(json::parse(text), ended(), "m");
        ASSERT_TRUE(out);
        EXPECT_EQ(*out, json::parse(text));
    }
}

} // namespace
