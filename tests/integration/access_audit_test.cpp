// SPDX-License-Identifier: Apache-2.0
//
// Route by route, every way in without the right credentials: no credential, a wrong key, a
// right the key lacks, another tenant, a namespace the key may not act in, a subscriber token
// without the session or channel claim. Each request of the table gets its refusal (or, for
// another tenant, an answer about that tenant's own empty world), and at the end nothing has
// changed: the victims' streams received nothing, were not replaced, and keep their channels.

#include "security_support.hpp"

namespace ssehub::test {
namespace {

namespace json = boost::json;

const std::string secret = "audit-subscriber-secret";
const std::string admin_key = "audit-admin-key-0123";
const std::string acme_all = "audit-acme-all-0123";
const std::string acme_push = "audit-acme-push-0123";
const std::string acme_read = "audit-acme-read-0123";
const std::string acme_member = "audit-acme-member-0123";
const std::string acme_other_ns = "audit-acme-other-ns-0123";
const std::string globex_all = "audit-globex-all-0123";

std::string entry(const std::string& key, const std::string& rest) {
    return "sha256:" + sha256_hex(key) + " " + rest;
}

std::string sub_token(json::object claims) {
    if (!claims.contains("exp")) {
        claims["exp"] = unix_now() + 600;
    }
    return sign_jwt(claims, "HS256", secret);
}

std::string acme_token(json::array sessions, json::array channels) {
    return sub_token({{"tenant", "acme"}, {"sessions", sessions}, {"channels", channels}});
}

std::string pin_doc(std::string_view element, json::object properties) {
    return json::serialize(json::object{{"library", "@digipair/skill-sse"},
                                        {"element", element},
                                        {"properties", std::move(properties)}});
}

// One request that must not read or write what it is not allowed to.
struct attempt {
    std::string name;
    std::string method;
    std::string target;
    std::string body;
    std::string key; ///< publisher key, or empty
    int status;
    std::string never_in_body = {}; ///< a 200 must not mention it
};

std::vector<attempt> control_attempts() {
    const std::string push_alice = "/api/v1/sessions/alice/messages";
    const std::string msg = R"({"message":{"stolen":true}})";
    std::vector<attempt> a;
    a.push_back({"push without a key", "POST", push_alice, msg, "", 401});
    a.push_back({"push with an unknown key", "POST", push_alice, msg, "not-a-key", 401});
    a.push_back({"push without the push right", "POST", push_alice, msg, acme_read, 403});
    a.push_back({"push from another tenant", "POST", push_alice, msg, globex_all, 404});
    a.push_back({"push from the default tenant", "POST", push_alice, msg, admin_key, 404});
    a.push_back({"push into a namespace the key may not use", "POST",
                 "/api/v1/sessions/bob/messages?digipair=dp&reasoning=r", msg, acme_other_ns, 403});
    a.push_back({"broadcast without the broadcast right", "POST", "/api/v1/channels/room/messages",
                 msg, acme_push, 403});
    // Channels are made on demand: this one is globex's own `room`, which nobody is in.
    a.push_back({"broadcast from another tenant", "POST", "/api/v1/channels/room/messages", msg,
                 globex_all, 200, "\"delivered\":1"});
    a.push_back({"join without the membership right", "PUT", "/api/v1/channels/spy/sessions/alice",
                 "", acme_push, 403});
    a.push_back({"join from another tenant", "PUT", "/api/v1/channels/spy/sessions/alice", "",
                 globex_all, 404});
    a.push_back({"leave without the membership right", "DELETE",
                 "/api/v1/channels/room/sessions/alice", "", acme_read, 403});
    a.push_back({"leave from another tenant", "DELETE", "/api/v1/channels/room/sessions/alice", "",
                 globex_all, 404});
    a.push_back({"disconnect without the membership right", "DELETE", "/api/v1/sessions/alice", "",
                 acme_push, 403});
    a.push_back({"disconnect from another tenant", "DELETE", "/api/v1/sessions/alice", "",
                 globex_all, 404});
    a.push_back(
        {"list sessions without introspection", "GET", "/api/v1/sessions", "", acme_push, 403});
    a.push_back(
        {"list channels without introspection", "GET", "/api/v1/channels", "", acme_member, 403});
    a.push_back({"read a channel without introspection", "GET", "/api/v1/channels/room", "",
                 acme_push, 403});
    a.push_back({"list sessions of another tenant", "GET", "/api/v1/sessions", "", globex_all, 200,
                 "alice"});
    a.push_back({"list channels of another tenant", "GET", "/api/v1/channels", "", globex_all, 200,
                 "alice"});
    a.push_back({"read a channel of another tenant", "GET", "/api/v1/channels/room", "", globex_all,
                 200, "alice"});
    a.push_back({"list sessions in a namespace the key may not use", "GET",
                 "/api/v1/sessions?digipair=dp&reasoning=r", "", acme_other_ns, 403});
    a.push_back({"metrics without a key", "GET", "/metrics", "", "", 401});
    a.push_back({"metrics from a tenant", "GET", "/metrics", "", acme_all, 403});
    a.push_back({"push pin without the push right", "POST", "/api/v1/actions",
                 pin_doc("push", {{"id", "alice"}, {"message", 1}}), acme_read, 403});
    a.push_back({"broadcast pin without the broadcast right", "POST", "/api/v1/actions",
                 pin_doc("broadcast", {{"id", "room"}, {"message", 1}}), acme_push, 403});
    a.push_back({"registerChannel pin without the membership right", "POST", "/api/v1/actions",
                 pin_doc("registerChannel", {{"id", "spy"}, {"session", "alice"}}), acme_push,
                 403});
    // Pins that act beyond one message need membership: a key for the listings must not
    // make the hub post anywhere or write its log.
    a.push_back({"webhook pin without the membership right", "POST", "/api/v1/actions",
                 json::serialize(json::object{{"library", "ssehub"},
                                              {"element", "webhook"},
                                              {"properties", {{"url", "http://127.0.0.1:9/"}}}}),
                 acme_read, 403});
    a.push_back({"log pin without the membership right", "POST", "/api/v1/actions",
                 R"({"type":"log","message":"forged"})", acme_push, 403});
    a.push_back({"a pin of another library without the membership right", "POST", "/api/v1/actions",
                 R"({"library":"@digipair/skill-web","element":"fetch","properties":{}})",
                 acme_read, 403});
    a.push_back(
        {"push pin into a namespace the key may not use", "POST", "/api/v1/actions",
         pin_doc("push", {{"id", "bob"}, {"message", 1}, {"digipair", "dp"}, {"reasoning", "r"}}),
         acme_other_ns, 403});
    a.push_back({"a second pin the key may not run stops the first", "POST", "/api/v1/actions",
                 "[" + pin_doc("push", {{"id", "alice"}, {"message", 1}}) + "," +
                     pin_doc("registerChannel", {{"id", "spy"}, {"session", "alice"}}) + "]",
                 acme_push, 403});
    a.push_back({"push pin from another tenant", "POST", "/api/v1/actions",
                 pin_doc("push", {{"id", "alice"}, {"message", 1}}), globex_all, 200,
                 "\"delivered\":1"});
    a.push_back({"a subscriber token as a publisher credential", "POST", push_alice, msg,
                 acme_token({"*"}, {"*"}), 401});
    return a;
}

std::vector<attempt> subscribe_attempts() {
    const auto alice = acme_token({"alice"}, {"room"});
    const auto bob_only = acme_token({"bob"}, {});
    std::vector<attempt> a;
    a.push_back({"no token", "GET", "/events?session=alice", "", "", 401});
    a.push_back({"a token for another session", "GET", "/events?session=alice&token=" + bob_only,
                 "", "", 403});
    a.push_back({"a token without the session claim", "GET",
                 "/events?session=alice&token=" + sub_token({{"tenant", "acme"}}), "", "", 403});
    a.push_back({"a token without the session claim and no session", "GET",
                 "/events?token=" + sub_token({{"tenant", "acme"}, {"channels", {"room"}}}), "", "",
                 403});
    a.push_back({"a token naming sessions asks for a generated one", "GET",
                 "/events?channel=room&token=" + alice, "", "", 403});
    a.push_back({"a token without the channel claim", "GET",
                 "/events?session=alice&channel=room&token=" +
                     sub_token({{"tenant", "acme"}, {"sessions", {"alice"}}}),
                 "", "", 403});
    a.push_back({"a channel the token does not name", "GET",
                 "/events?session=alice&channel=spy&token=" + alice, "", "", 403});
    a.push_back({"the default channel by name", "GET",
                 "/events?session=alice&channel=&token=" + alice, "", "", 403});
    a.push_back(
        {"another session in a namespace", "GET", "/dp/r?session=bob&token=" + alice, "", "", 403});
    a.push_back({"a POST subscription for another session", "POST",
                 "/events?session=alice&token=" + bob_only, R"({"userId":"u"})", "", 403});
    a.push_back(
        {"an expired token", "GET",
         "/events?session=alice&token=" +
             sub_token({{"tenant", "acme"}, {"sessions", {"alice"}}, {"exp", unix_now() - 10}}),
         "", "", 401});
    a.push_back(
        {"a token signed with another key", "GET",
         "/events?session=alice&token=" +
             sign_jwt({{"tenant", "acme"}, {"sessions", {"alice"}}, {"exp", unix_now() + 600}},
                      "HS256", "another-secret"),
         "", "", 401});
    a.push_back(
        {"an unsigned token", "GET",
         "/events?session=alice&token=" +
             sign_jwt({{"tenant", "acme"}, {"sessions", {"alice"}}, {"exp", unix_now() + 600}},
                      "none", ""),
         "", "", 401});
    a.push_back({"a tenant claim that is not a string", "GET",
                 "/events?session=alice&token=" +
                     sub_token({{"tenant", json::array{"acme"}}, {"sessions", {"*"}}}),
                 "", "", 401});
    a.push_back({"a publisher key as a subscriber token", "GET",
                 "/events?session=alice&token=" + acme_all, "", "", 401});
    return a;
}

class AccessAuditTest : public hub_test {
protected:
    void SetUp() override {
        start({"--auth-publishers-keys",
               entry(admin_key, "") + "," + entry(acme_all, "tenant=acme") + "," +
                   entry(acme_push, "tenant=acme rights=push") + "," +
                   entry(acme_read, "tenant=acme rights=introspection") + "," +
                   entry(acme_member, "tenant=acme rights=membership") + "," +
                   entry(acme_other_ns, "tenant=acme namespaces=other/x") + "," +
                   entry(globex_all, "tenant=globex"),
               "--auth-subscribers-mode", "jwt", "--auth-subscribers-jwt-alg", "HS256",
               "--auth-subscribers-jwt-secret", secret, "--session-grace", "0s"});
    }

    http_response send(const attempt& a) {
        request_options o;
        if (!a.key.empty()) {
            o.headers.emplace_back("Authorization", "Bearer " + a.key);
        }
        return http_request(hub(), a.method, a.target, a.body, o);
    }

    std::string metrics() {
        return http_request(hub(), "GET", "/metrics", {}, bearer(admin_key)).body;
    }
};

TEST_F(AccessAuditTest, NoRequestWithoutTheRightCredentialsReadsOrWritesAnything) {
    auto alice =
        subscribe("/events?session=alice&channel=room&token=" + acme_token({"alice"}, {"room"}));
    auto bob = subscribe("/dp/r?session=bob&token=" + acme_token({"bob"}, {}));
    ASSERT_EQ(alice->head().status, 200);
    ASSERT_EQ(bob->head().status, 200);
    const auto replaced = metric_value(metrics(), "ssehub_replacements_total");

    for (const auto& a : control_attempts()) {
        SCOPED_TRACE(a.name);
        auto r = send(a);
        if (a.status == 200) {
            EXPECT_EQ(r.status, 200) << a.name << ": " << r.body;
            EXPECT_EQ(r.body.find(a.never_in_body), std::string::npos) << a.name << ": " << r.body;
        } else {
            EXPECT_TRUE(is_json_error(r, a.status)) << a.name << ": " << r.status << " " << r.body;
        }
    }
    for (const auto& a : subscribe_attempts()) {
        SCOPED_TRACE(a.name);
        subscribe_options o;
        o.method = a.method;
        o.body = a.body;
        sse_stream s(hub(), a.target, o);
        ASSERT_TRUE(s.read_head(after(5s))) << a.name;
        ASSERT_TRUE(s.read_complete_body(after(5s))) << a.name;
        EXPECT_TRUE(is_json_error(s.head(), s.body(), a.status))
            << a.name << ": " << s.head().status_line << " " << s.body();
    }

    // Nothing reached the victims, nobody took their place, and they keep their channels.
    EXPECT_FALSE(alice->next_event(after(300ms))) << "an event reached alice";
    EXPECT_FALSE(bob->next_event(after(50ms))) << "an event reached bob";
    EXPECT_FALSE(alice->ended());
    EXPECT_FALSE(bob->ended());
    EXPECT_EQ(metric_value(metrics(), "ssehub_replacements_total"), replaced);
    auto room = http_request(hub(), "GET", "/api/v1/channels/room", {}, bearer(acme_all));
    ASSERT_EQ(room.status, 200) << room.body;
    EXPECT_EQ(room.json().at("sessions"), json::array{"alice"});
    auto acme = http_request(hub(), "GET", "/api/v1/sessions", {}, bearer(acme_all));
    EXPECT_EQ(acme.json().at("sessions").as_array().size(), 1u) << acme.body;
    EXPECT_EQ(http_request(hub(), "GET", "/api/v1/channels/spy", {}, bearer(acme_all)).status, 404);

    // And the right credentials still work, so the refusals above were about credentials.
    auto ok = http_request(hub(), "POST", "/api/v1/sessions/alice/messages",
                           R"({"message":"granted"})", bearer(acme_push));
    EXPECT_EQ(ok.status, 200) << ok.body;
    auto e = alice->next_event(after(5s));
    ASSERT_TRUE(e);
    EXPECT_TRUE(is_event(*e, "message", "\"granted\""));
}

} // namespace
} // namespace ssehub::test
