// SPDX-License-Identifier: Apache-2.0
//
// Trust, DESIGN.md section 6: secure defaults, publishers (API keys and JWTs), subscribers
// (JWTs naming their sessions and channels), tenants, limits and CORS with credentials
// (F21, F27, F29).

#include "security_support.hpp"

#include <fstream>
#include <set>

namespace ssehub::test {
namespace {

namespace json = boost::json;

const std::string admin_key = "k-admin-0123456789";
const std::string pusher_key = "k-pusher-0123456789";
const std::string scoped_key = "k-scoped-0123456789";
const std::string member_key = "k-member-0123456789";
const std::string acme_key = "k-acme-0123456789";
const std::string globex_key = "k-globex-0123456789";
const std::string sub_secret = "subscriber-secret-for-tests";
const std::string pub_secret = "publisher-secret-for-tests";

std::string key_entry(const std::string& key, const std::string& rest = {}) {
    return "sha256:" + sha256_hex(key) + (rest.empty() ? "" : " " + rest);
}

std::string push_body(std::string_view message) {
    return R"({"message":)" + std::string(message) + "}";
}

// ---------------------------------------------------------------------------------------
// Secure defaults

TEST(SecureDefaultsTest, RefusesToListenBeyondLoopbackWithoutPublisherCredentials) {
    // The check runs before any socket opens: nothing is bound beyond loopback.
    auto r = run_command(ssehub_binary() + " serve --listen 0.0.0.0:0");

    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find("auth.publishers.keys"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("server.listen"), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

TEST(SecureDefaultsTest, RefusesWildcardCorsWithCredentials) {
    auto r = run_command(ssehub_binary() + " serve --listen 127.0.0.1:0 --cors-allow-origins '*' "
                                           "--cors-allow-credentials true");

    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find("cors.allow_origins"), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

TEST(SecureDefaultsTest, RefusesAKeyThatIsNotHashed) {
    auto r = run_command(ssehub_binary() +
                         " serve --listen 127.0.0.1:0 --auth-publishers-keys plain-secret");

    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find("auth.publishers.keys"), std::string::npos) << r.output;
}

TEST(SecureDefaultsTest, RefusesAnAlgorithmWithoutItsKey) {
    auto r =
        run_command(ssehub_binary() + " serve --listen 127.0.0.1:0 --auth-subscribers-mode jwt "
                                      "--auth-subscribers-jwt-alg RS256");

    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find("auth.subscribers.jwt_key_file"), std::string::npos) << r.output;
}

TEST(SecureDefaultsTest, RefusesAnUnreadableKeyFile) {
    auto r =
        run_command(ssehub_binary() + " serve --listen 127.0.0.1:0 --auth-publishers-jwt-alg ES256 "
                                      "--auth-publishers-jwt-key-file /nonexistent/key.pem");

    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find("auth.publishers.jwt_key_file"), std::string::npos) << r.output;
}

// Found by fuzz_config: toml++ quotes the bytes it choked on, a line break included.
TEST(ConfigurationTest, ASyntaxErrorQuotingALineBreakStaysOneLine) {
    temp_dir dir;
    const auto file = dir.path() / "hub.toml";
    {
        std::ofstream out(file);
        out << "[cors]\nallow_credentials = tr\n";
    }
    auto r = run_command(ssehub_binary() + " serve --config " + file.string());

    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find("not valid TOML"), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

class OpenLoopbackTest : public hub_test {};

TEST_F(OpenLoopbackTest, NothingConfiguredMeansOpenAccessOnLoopback) {
    start();
    auto stream = subscribe("/events?session=s1");

    auto r = http_request(hub(), "POST", "/api/v1/sessions/s1/messages", push_body("1"));

    EXPECT_EQ(r.status, 200) << r.body;
    auto e = stream->next_event(after(5s));
    ASSERT_TRUE(e);
    EXPECT_TRUE(is_event(*e, "message", "1"));
}

// ---------------------------------------------------------------------------------------
// Publishers: API keys

class PublisherKeyTest : public hub_test {
protected:
    void SetUp() override {
        start({"--auth-publishers-keys",
               key_entry(admin_key) + "," + key_entry(pusher_key, "rights=push") + "," +
                   key_entry(scoped_key, "rights=push+broadcast namespaces=dp_001/*") + "," +
                   key_entry(member_key, "rights=membership") + "," +
                   key_entry(acme_key, "tenant=acme")});
    }

    std::string metrics() {
        return http_request(hub(), "GET", "/metrics", {}, bearer(admin_key)).body;
    }
};

TEST_F(PublisherKeyTest, MissingCredentialsGet401WithAJsonError) {
    auto r = http_request(hub(), "POST", "/api/v1/sessions/s1/messages", push_body("1"));

    EXPECT_TRUE(is_json_error(r, 401, "headers.authorization")) << r.body;
    EXPECT_EQ(r.header("WWW-Authenticate").value_or(""), "Bearer");
}

TEST_F(PublisherKeyTest, AnUnknownKeyGets401AndIsCounted) {
    const auto before = metric_value(metrics(), "ssehub_request_refusals_total{status=\"401\"}");

    auto r = http_request(hub(), "POST", "/api/v1/sessions/s1/messages", push_body("1"),
                          bearer("not-a-key"));
    auto basic = http_request(hub(), "GET", "/api/v1/sessions", {},
                              request_options{.headers = {{"Authorization", "Basic YTpi"}}});

    EXPECT_TRUE(is_json_error(r, 401)) << r.body;
    EXPECT_TRUE(is_json_error(basic, 401)) << basic.body;
    EXPECT_EQ(metric_value(metrics(), "ssehub_request_refusals_total{status=\"401\"}"), before + 2);
}

TEST_F(PublisherKeyTest, AKeyActsWithinItsRights) {
    auto stream = subscribe("/events?session=s1");

    auto pushed = http_request(hub(), "POST", "/api/v1/sessions/s1/messages", push_body("1"),
                               bearer(pusher_key));
    auto broadcast = http_request(hub(), "POST", "/api/v1/channels/c/messages", push_body("2"),
                                  bearer(pusher_key));
    auto listed = http_request(hub(), "GET", "/api/v1/sessions", {}, bearer(pusher_key));
    auto joined =
        http_request(hub(), "PUT", "/api/v1/channels/c/sessions/s1", {}, bearer(pusher_key));
    auto kicked = http_request(hub(), "DELETE", "/api/v1/sessions/s1", {}, bearer(pusher_key));
    auto pin_doc = to_json(pin("registerSession", {{"id", "s2"}}));
    auto registered = http_request(hub(), "POST", "/api/v1/actions", pin_doc, bearer(pusher_key));

    EXPECT_EQ(pushed.status, 200) << pushed.body;
    EXPECT_TRUE(is_json_error(broadcast, 403)) << broadcast.body;
    EXPECT_TRUE(is_json_error(listed, 403)) << listed.body;
    EXPECT_TRUE(is_json_error(joined, 403)) << joined.body;
    EXPECT_TRUE(is_json_error(kicked, 403)) << kicked.body;
    EXPECT_TRUE(is_json_error(registered, 403, "element")) << registered.body;

    // Only the push arrived; the session is still connected and in no channel.
    auto e = stream->next_event(after(5s));
    ASSERT_TRUE(e);
    EXPECT_TRUE(is_event(*e, "message", "1"));
    auto sessions = http_request(hub(), "GET", "/api/v1/sessions", {}, bearer(admin_key));
    EXPECT_NE(sessions.body.find("\"connected\":true"), std::string::npos) << sessions.body;
    EXPECT_EQ(sessions.body.find("\"c\""), std::string::npos) << sessions.body;
    EXPECT_EQ(sessions.body.find("s2"), std::string::npos) << sessions.body;
}

TEST_F(PublisherKeyTest, NestedDisconnectedPinsNeedTheirRightsToo) {
    // A session whose disconnected list broadcasts needs the broadcast right at registration.
    json::value doc = pin("push", {{"id", "s1"}, {"message", 1}});
    json::value nested =
        pin("registerSession",
            {{"id", "s1"}, {"disconnected", json::array{pin("broadcast", {{"message", 1}})}}});

    auto push_pin =
        http_request(hub(), "POST", "/api/v1/actions", to_json(doc), bearer(pusher_key));
    auto nested_pin =
        http_request(hub(), "POST", "/api/v1/actions", to_json(nested), bearer(member_key));

    EXPECT_EQ(push_pin.status, 200) << push_pin.body;
    EXPECT_TRUE(is_json_error(nested_pin, 403, "properties.disconnected[0].element"))
        << nested_pin.body;
    auto sessions = http_request(hub(), "GET", "/api/v1/sessions", {}, bearer(admin_key));
    EXPECT_EQ(sessions.body.find("s1"), std::string::npos) << sessions.body;
}

TEST_F(PublisherKeyTest, AKeyStaysInItsNamespaces) {
    auto inside = subscribe("/dp_001/greeting?session=s1");

    auto ok = http_request(hub(), "POST",
                           "/api/v1/sessions/s1/messages?digipair=dp_001&reasoning=greeting",
                           push_body("1"), bearer(scoped_key));
    auto outside = http_request(hub(), "POST", "/api/v1/sessions/s1/messages?digipair=dp_002",
                                push_body("2"), bearer(scoped_key));
    json::value stray = pin("push", {{"id", "s1"}, {"message", 3}, {"digipair", "dp_002"}});
    auto stray_pin = http_request(hub(), "POST", "/api/v1/actions?digipair=dp_001", to_json(stray),
                                  bearer(scoped_key));

    EXPECT_EQ(ok.status, 200) << ok.body;
    EXPECT_TRUE(is_json_error(outside, 403)) << outside.body;
    EXPECT_TRUE(is_json_error(stray_pin, 403, "element")) << stray_pin.body;
    auto e = inside->next_event(after(5s));
    ASSERT_TRUE(e);
    EXPECT_TRUE(is_event(*e, "message", "1"));
}

TEST_F(PublisherKeyTest, MetricsNeedIntrospectionInTheDefaultTenant) {
    auto anonymous = http_request(hub(), "GET", "/metrics");
    auto tenant = http_request(hub(), "GET", "/metrics", {}, bearer(acme_key));
    auto admin = http_request(hub(), "GET", "/metrics", {}, bearer(admin_key));
    auto health = http_request(hub(), "GET", "/healthz");

    EXPECT_TRUE(is_json_error(anonymous, 401)) << anonymous.body;
    EXPECT_TRUE(is_json_error(tenant, 403)) << tenant.body;
    EXPECT_EQ(admin.status, 200);
    EXPECT_EQ(health.status, 200);
}

TEST_F(PublisherKeyTest, TheCliSendsItsTokenFromTheFlagOrTheEnvironment) {
    auto stream = subscribe("/events?session=s1");
    const std::string url = "--url http://" + hub().address();

    auto none = run_command(ssehub_binary() + " push " + url + " s1 1");
    auto flag = run_command(ssehub_binary() + " push " + url + " --token " + pusher_key + " s1 2");
    auto env = run_command("env SSEHUB_TOKEN=" + pusher_key + " " + ssehub_binary() + " push " +
                           url + " s1 3");

    EXPECT_EQ(none.code, 1) << none.output;
    EXPECT_NE(none.output.find("unauthorized"), std::string::npos) << none.output;
    EXPECT_EQ(flag.code, 0) << flag.output;
    EXPECT_EQ(env.code, 0) << env.output;
    for (const char* data : {"2", "3"}) {
        auto e = stream->next_event(after(5s));
        ASSERT_TRUE(e);
        EXPECT_TRUE(is_event(*e, "message", data));
    }
}

TEST(PublisherBeyondLoopbackTest, CredentialsLetTheHubStartOnLoopbackOrBeyond) {
    // The same configuration that is refused without a key starts with one; the bind itself
    // stays on 127.0.0.1 as every integration test does.
    server_process hub({"--auth-publishers-keys", key_entry(admin_key)});
    auto r = http_request(hub, "GET", "/api/v1/sessions", {}, bearer(admin_key));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(hub.stop().clean());
}

// ---------------------------------------------------------------------------------------
// Publishers: JWTs

json::object publisher_claims(std::string_view rights = "push") {
    return {{"sub", "app-1"},
            {"rights", json::array{json::string(rights)}},
            {"aud", "ssehub"},
            {"iss", "https://issuer.test"},
            {"exp", unix_now() + 600}};
}

class PublisherJwtTest : public hub_test {
protected:
    void start_with(const std::string& alg, const std::string& secret_or_file) {
        std::vector<std::string> args{"--auth-publishers-jwt-alg", alg,
                                      "--auth-publishers-jwt-aud", "ssehub",
                                      "--auth-publishers-jwt-iss", "https://issuer.test"};
        if (alg == "HS256") {
            args.insert(args.end(), {"--auth-publishers-jwt-secret", secret_or_file});
        } else {
            args.insert(args.end(), {"--auth-publishers-jwt-key-file", secret_or_file});
        }
        start(args);
    }

    int push_with(const std::string& token) {
        auto r = http_request(hub(), "POST", "/api/v1/sessions/s1/messages", push_body("1"),
                              bearer(token));
        if (r.status >= 400) {
            EXPECT_TRUE(is_json_error(r, r.status)) << r.body;
        }
        return r.status;
    }
};

TEST_F(PublisherJwtTest, Hs256TokensAreCheckedForSignatureTimesAudienceAndIssuer) {
    start_with("HS256", pub_secret);
    auto stream = subscribe("/events?session=s1");

    auto expired = publisher_claims();
    expired["exp"] = unix_now() - 5;
    auto early = publisher_claims();
    early["nbf"] = unix_now() + 600;
    auto other_aud = publisher_claims();
    other_aud["aud"] = json::array{"someone-else"};
    auto other_iss = publisher_claims();
    other_iss["iss"] = "https://evil.test";
    auto no_rights = publisher_claims();
    no_rights.erase("rights");

    EXPECT_EQ(push_with(sign_jwt(publisher_claims(), "HS256", pub_secret)), 200);
    EXPECT_EQ(push_with(sign_jwt(publisher_claims(), "HS256", "another-secret")), 401);
    EXPECT_EQ(push_with(sign_jwt(publisher_claims(), "none", "")), 401);
    EXPECT_EQ(push_with(sign_jwt(expired, "HS256", pub_secret)), 401);
    EXPECT_EQ(push_with(sign_jwt(early, "HS256", pub_secret)), 401);
    EXPECT_EQ(push_with(sign_jwt(other_aud, "HS256", pub_secret)), 401);
    EXPECT_EQ(push_with(sign_jwt(other_iss, "HS256", pub_secret)), 401);
    EXPECT_EQ(push_with(sign_jwt(no_rights, "HS256", pub_secret)), 403);
    EXPECT_EQ(push_with("a.b.c"), 401);

    // Exactly one push was authorised, so exactly one event arrives.
    auto e = stream->next_event(after(5s));
    ASSERT_TRUE(e);
    EXPECT_TRUE(is_event(*e, "message", "1"));
    EXPECT_FALSE(stream->next_event(after(300ms)));
}

TEST_F(PublisherJwtTest, Rs256TokensVerifyWithThePublicKeyOnly) {
    temp_dir dir;
    const auto keys = make_key_pair(dir, "RSA", "hub");
    const auto other = make_key_pair(dir, "EC", "other");
    start_with("RS256", keys.public_file.string());
    auto stream = subscribe("/events?session=s1");

    EXPECT_EQ(push_with(sign_jwt(publisher_claims(), "RS256", keys.private_pem)), 200);
    // Algorithm confusion: an HS256 token whose secret is the public key's PEM.
    EXPECT_EQ(push_with(sign_jwt(publisher_claims(), "HS256", read_file(keys.public_file))), 401);
    EXPECT_EQ(push_with(sign_jwt(publisher_claims(), "ES256", other.private_pem)), 401);
}

TEST_F(PublisherJwtTest, Es256TokensVerifyWithThePublicKeyOnly) {
    temp_dir dir;
    const auto keys = make_key_pair(dir, "EC", "hub");
    const auto other = make_key_pair(dir, "EC", "other");
    start_with("ES256", keys.public_file.string());
    auto stream = subscribe("/events?session=s1");

    EXPECT_EQ(push_with(sign_jwt(publisher_claims(), "ES256", keys.private_pem)), 200);
    EXPECT_EQ(push_with(sign_jwt(publisher_claims(), "ES256", other.private_pem)), 401);
}

// ---------------------------------------------------------------------------------------
// Subscribers (F29)

json::object subscriber_claims(json::array sessions, json::array channels = {}) {
    return {{"sessions", std::move(sessions)},
            {"channels", std::move(channels)},
            {"exp", unix_now() + 600}};
}

class SubscriberJwtTest : public hub_test {
protected:
    void SetUp() override {
        start({"--auth-publishers-keys", key_entry(admin_key), "--auth-subscribers-mode", "jwt",
               "--auth-subscribers-jwt-alg", "HS256", "--auth-subscribers-jwt-secret", sub_secret,
               "--session-grace", "0s"});
    }

    std::string token(json::array sessions, json::array channels = {}) {
        return sign_jwt(subscriber_claims(std::move(sessions), std::move(channels)), "HS256",
                        sub_secret);
    }

    // Opens `target` and expects a refusal with `status` and a JSON error, no stream.
    void expect_refused(const std::string& target, int status, subscribe_options o = {}) {
        sse_stream s(hub(), target, std::move(o));
        ASSERT_TRUE(s.read_head(after(5s))) << target;
        ASSERT_TRUE(s.read_complete_body(after(5s))) << target;
        EXPECT_TRUE(is_json_error(s.head(), s.body(), status)) << target << "\n"
                                                               << s.head().raw << s.body();
        EXPECT_EQ(s.head().header("Content-Type").value_or(""), "application/json") << target;
    }
};

TEST_F(SubscriberJwtTest, AValidTokenForOneSessionCannotTakeAnother) {
    const auto ta = token({"alice"}, {"room1"});
    const auto tb = token({"bob"});
    auto ta_exp_claims = subscriber_claims({"alice"}, {"room1"});
    ta_exp_claims["exp"] = unix_now() - 5;
    const auto ta_exp = sign_jwt(ta_exp_claims, "HS256", sub_secret);

    auto alice = subscribe("/events?session=alice&channel=room1&token=" + ta);
    auto first = http_request(hub(), "POST", "/api/v1/sessions/alice/messages", push_body("1"),
                              bearer(admin_key));
    ASSERT_EQ(first.status, 200) << first.body;
    auto e1 = alice->next_event(after(5s));
    ASSERT_TRUE(e1);
    const std::size_t alice_bytes = alice->raw().size();

    expect_refused("/events?session=alice&token=" + tb, 403);
    expect_refused("/events?session=bob&channel=room1&token=" + tb, 403);
    expect_refused("/events?session=alice", 401);
    expect_refused("/events?session=alice&token=" + ta_exp, 401);
    expect_refused("/events?session=alice&token=" + token({"alice"}).substr(1), 401);
    subscribe_options header;
    header.headers.emplace_back("Authorization", "Bearer " + tb);
    expect_refused("/events?session=alice", 403, header);

    // A subscriber token is no publisher credential.
    auto join = http_request(hub(), "PUT", "/api/v1/channels/room1/sessions/bob", {}, bearer(tb));
    EXPECT_TRUE(is_json_error(join, 401)) << join.body;

    // Nothing reached alice, room1 lists only her, and her stream is still hers.
    auto room = http_request(hub(), "GET", "/api/v1/channels/room1", {}, bearer(admin_key));
    EXPECT_NE(room.body.find("alice"), std::string::npos) << room.body;
    EXPECT_EQ(room.body.find("bob"), std::string::npos) << room.body;
    EXPECT_FALSE(alice->next_event(after(200ms)));
    EXPECT_EQ(alice->raw().size(), alice_bytes);

    // Alice herself resumes with her token and misses nothing.
    auto second = http_request(hub(), "POST", "/api/v1/channels/room1/messages", push_body("2"),
                               bearer(admin_key));
    ASSERT_EQ(second.status, 200) << second.body;
    subscribe_options resume;
    resume.headers.emplace_back("Last-Event-ID", *e1->id);
    resume.headers.emplace_back("Authorization", "Bearer " + ta);
    auto again = subscribe("/events?session=alice&channel=room1", resume);
    auto e2 = again->next_event(after(5s));
    ASSERT_TRUE(e2);
    EXPECT_TRUE(is_event(*e2, "message", "2"));
    EXPECT_TRUE(alice->wait_closed(after(5s))) << "the old connection was not replaced";
}

TEST_F(SubscriberJwtTest, ATokenNamesTheChannelsItMayFollow) {
    const auto t = token({"*"}, {"news"});

    auto ok = subscribe("/events?session=s1&channel=news&token=" + t);
    expect_refused("/events?session=s2&channel=news&channel=secret&token=" + t, 403);

    auto sessions = http_request(hub(), "GET", "/api/v1/sessions", {}, bearer(admin_key));
    EXPECT_NE(sessions.body.find("s1"), std::string::npos) << sessions.body;
    EXPECT_EQ(sessions.body.find("s2"), std::string::npos) << sessions.body;
}

// ---------------------------------------------------------------------------------------
// Tenants

class TenantTest : public hub_test {
protected:
    void SetUp() override {
        start({"--auth-publishers-keys",
               key_entry(acme_key, "tenant=acme") + "," + key_entry(globex_key, "tenant=globex"),
               "--auth-subscribers-mode", "jwt", "--auth-subscribers-jwt-alg", "HS256",
               "--auth-subscribers-jwt-secret", sub_secret});
    }

    std::string token(std::string_view tenant) {
        auto claims = subscriber_claims({"same"}, {"room"});
        claims["tenant"] = tenant;
        return sign_jwt(claims, "HS256", sub_secret);
    }
};

TEST_F(TenantTest, TenantsNeverSeeEachOtherWhateverIdsTheyChoose) {
    auto acme = subscribe("/events?session=same&channel=room&token=" + token("acme"));
    auto globex = subscribe("/events?session=same&channel=room&token=" + token("globex"));

    auto a = http_request(hub(), "POST", "/api/v1/sessions/same/messages", push_body("\"a\""),
                          bearer(acme_key));
    auto g = http_request(hub(), "POST", "/api/v1/channels/room/messages", push_body("\"g\""),
                          bearer(globex_key));
    ASSERT_EQ(a.status, 200) << a.body;
    ASSERT_EQ(g.status, 200) << g.body;
    EXPECT_EQ(a.json().at("delivered"), 1) << a.body;
    EXPECT_EQ(g.json().at("delivered"), 1) << g.body;

    auto ea = acme->next_event(after(5s));
    auto eg = globex->next_event(after(5s));
    ASSERT_TRUE(ea && eg);
    EXPECT_TRUE(is_event(*ea, "message", "\"a\""));
    EXPECT_TRUE(is_event(*eg, "message", "\"g\""));
    EXPECT_FALSE(acme->next_event(after(200ms)));
    EXPECT_FALSE(globex->next_event(after(200ms)));

    // Introspection lists one `same` per tenant, each its own.
    auto listed = http_request(hub(), "GET", "/api/v1/channels/room", {}, bearer(acme_key));
    EXPECT_EQ(listed.json().at("sessions").as_array().size(), 1u) << listed.body;

    // History: a resume on globex's side replays only globex's events.
    subscribe_options resume;
    resume.headers.emplace_back("Last-Event-ID", *ea->id);
    auto replay = subscribe("/events?session=same&channel=room&token=" + token("globex"), resume);
    std::vector<std::string> replayed;
    while (auto r = replay->next_event(after(500ms))) {
        replayed.push_back(r->data);
    }
    EXPECT_NE(std::ranges::find(replayed, "\"g\""), replayed.end());
    EXPECT_EQ(std::ranges::find(replayed, "\"a\""), replayed.end());
}

class TenantLimitTest : public hub_test {};

TEST_F(TenantLimitTest, ATenantsSessionsAreBoundedAcrossItsNamespaces) {
    start({"--auth-publishers-keys",
           key_entry(acme_key, "tenant=acme") + "," + key_entry(globex_key, "tenant=globex"),
           "--limits-sessions-per-tenant", "2"});
    auto register_in = [this](const std::string& key, std::string_view digipair,
                              std::string_view id) {
        json::value p = pin("registerSession", {{"id", id}, {"digipair", digipair}});
        return http_request(hub(), "POST", "/api/v1/actions", to_json(p), bearer(key));
    };

    auto first = register_in(acme_key, "a", "s1");
    auto second = register_in(acme_key, "b", "s1");
    auto third = register_in(acme_key, "c", "s1");
    auto other = register_in(globex_key, "a", "s1");

    EXPECT_EQ(first.status, 200) << first.body;
    EXPECT_EQ(second.status, 200) << second.body;
    EXPECT_TRUE(is_json_error(third, 429)) << third.body;
    EXPECT_EQ(other.status, 200) << "another tenant has its own count: " << other.body;
}

// ---------------------------------------------------------------------------------------
// Limits

class LimitsTest : public hub_test {};

TEST_F(LimitsTest, HeadersOverTheirLimitGet431) {
    start({"--limits-headers", "2KiB"});
    request_options big;
    big.headers.emplace_back("X-Filler", std::string(3000, 'x'));

    auto r = http_request(hub(), "GET", "/healthz", {}, big);
    auto fine = http_request(hub(), "GET", "/healthz");

    EXPECT_TRUE(is_json_error(r, 431, "headers")) << r.body;
    EXPECT_EQ(fine.status, 200);
}

TEST_F(LimitsTest, PublishRateIsPerKeyAndAnswers429WithRetryAfter) {
    start({"--auth-publishers-keys", key_entry(admin_key) + "," + key_entry(pusher_key),
           "--limits-publish-rate", "3"});
    int refused = 0;
    std::optional<std::string> retry_after;
    for (int i = 0; i < 10; ++i) {
        auto r = http_request(hub(), "GET", "/api/v1/sessions", {}, bearer(pusher_key));
        if (r.status == 429) {
            EXPECT_TRUE(is_json_error(r, 429)) << r.body;
            retry_after = r.header("Retry-After");
            ++refused;
        }
    }
    auto other = http_request(hub(), "GET", "/api/v1/sessions", {}, bearer(admin_key));

    // Ten requests against a bucket of three: some are refused unless the ten took over two
    // seconds, which would refill the seven missing tokens.
    EXPECT_GE(refused, 1);
    EXPECT_TRUE(retry_after.has_value());
    EXPECT_EQ(other.status, 200) << "another key has its own bucket";
    auto m = http_request(hub(), "GET", "/metrics", {}, bearer(admin_key));
    EXPECT_GE(metric_value(m.body, "ssehub_request_refusals_total{status=\"429\"}"), refused);
}

// F22: at the connection limit, newcomers are refused with 429 and a spread Retry-After;
// nobody already connected is evicted.
TEST_F(LimitsTest, AtTheConnectionLimitNewcomersAreRefusedAndNobodyIsEvicted) {
    constexpr int streams = 20;
    constexpr int newcomers = 25;
    // One slot above the streams: the control calls of this test use it once the
    // newcomers are gone.
    start({"--limits-connections", std::to_string(streams + 1), "--session-grace", "0s"});
    std::vector<std::unique_ptr<sse_stream>> held;
    for (int i = 0; i < streams; ++i) {
        held.push_back(subscribe("/events?session=h" + std::to_string(i)));
    }

    // All newcomers connect before any of them asks: one takes the spare slot, the others
    // are over the limit.
    std::vector<std::unique_ptr<tcp_client>> clients;
    for (int i = 0; i < newcomers; ++i) {
        clients.push_back(std::make_unique<tcp_client>(hub().host(), hub().port()));
    }
    int refused = 0;
    std::set<std::string> retry_afters;
    for (auto& c : clients) {
        c->send("GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        c->read_until("\r\n\r\n", after(5s));
        const auto& got = c->received();
        if (got.starts_with("HTTP/1.1 429")) {
            ++refused;
            c->read_until_closed(after(5s));
            EXPECT_NE(got.find("\"code\":\"limit_exceeded\""), std::string::npos) << got;
            const auto at = got.find("Retry-After: ");
            ASSERT_NE(at, std::string::npos) << got;
            retry_afters.insert(got.substr(at + 13, got.find('\r', at) - at - 13));
        }
    }
    clients.clear();

    EXPECT_EQ(refused, newcomers - 1);
    EXPECT_GE(retry_afters.size(), 2u) << "every refused client was told the same delay";

    // Every stream is still there and receives, once the spare slot is free again (the hub
    // lets go of a closed connection asynchronously).
    std::unique_ptr<http_client> control;
    for (auto until = after(5s); !control && clock::now() < until;) {
        auto c = std::make_unique<http_client>(hub());
        try {
            if (c->request("GET", "/healthz").status == 200) {
                control = std::move(c);
                break;
            }
        } catch (const std::exception&) {
            // Refused and closed: the slot is not free yet.
        }
        std::this_thread::sleep_for(10ms);
    }
    ASSERT_TRUE(control) << "the spare slot never came back";
    for (int i = 0; i < streams; ++i) {
        auto r = control->request("POST", "/api/v1/sessions/h" + std::to_string(i) + "/messages",
                                  R"({"message":)" + std::to_string(i) + "}");
        ASSERT_EQ(r.status, 200) << r.body;
    }
    for (int i = 0; i < streams; ++i) {
        auto e = held[static_cast<std::size_t>(i)]->next_event(after(5s));
        ASSERT_TRUE(e) << "h" << i;
        EXPECT_TRUE(is_event(*e, "message", std::to_string(i)));
    }
    // The refusals are counted (with those of the wait for the spare slot, if any).
    auto m = control->request("GET", "/metrics");
    EXPECT_GE(metric_value(m.body, "ssehub_refused_connections_total"), refused);
}

// ---------------------------------------------------------------------------------------
// F21: credentialed CORS names the origin

class CredentialedCorsTest : public hub_test {
protected:
    void SetUp() override {
        start({"--cors-allow-origins", "http://127.0.0.2:8000", "--cors-allow-credentials", "true",
               "--auth-subscribers-mode", "jwt", "--auth-subscribers-jwt-alg", "HS256",
               "--auth-subscribers-jwt-secret", sub_secret});
        token_ = sign_jwt(subscriber_claims({"s1"}, {"c"}), "HS256", sub_secret);
    }

    std::string token_;
};

TEST_F(CredentialedCorsTest, AnAllowedOriginIsNamedWithCredentials) {
    subscribe_options o;
    o.headers.emplace_back("Origin", "http://127.0.0.2:8000");
    auto s = subscribe("/events?session=s1&channel=c&token=" + token_, o);

    EXPECT_EQ(s->head().header("Access-Control-Allow-Origin").value_or(""),
              "http://127.0.0.2:8000");
    EXPECT_EQ(s->head().header("Access-Control-Allow-Credentials").value_or(""), "true");
    EXPECT_EQ(s->head().header("Vary").value_or(""), "Origin");
}

TEST_F(CredentialedCorsTest, AnotherOriginIsRefusedAndCreatesNothing) {
    subscribe_options o;
    o.headers.emplace_back("Origin", "http://127.0.0.3:8000");
    sse_stream s(hub(), "/events?session=s1&channel=c&token=" + token_, o);
    ASSERT_TRUE(s.read_head(after(5s)));
    ASSERT_TRUE(s.read_complete_body(after(5s)));

    EXPECT_TRUE(is_json_error(s.head(), s.body(), 403));
    EXPECT_FALSE(s.head().header("Access-Control-Allow-Origin"));
    auto sessions = http_request(hub(), "GET", "/api/v1/sessions");
    EXPECT_EQ(sessions.body.find("s1"), std::string::npos) << sessions.body;
}

TEST_F(CredentialedCorsTest, NoOriginMeansNoCorsHeaders) {
    auto s = subscribe("/events?session=s1&channel=c&token=" + token_);

    EXPECT_FALSE(s->head().header("Access-Control-Allow-Origin"));
    EXPECT_FALSE(s->head().header("Access-Control-Allow-Credentials"));
}

TEST_F(CredentialedCorsTest, PreflightNamesTheOriginAndTheHeaders) {
    for (const char* method : {"GET", "POST"}) {
        request_options o;
        o.headers = {{"Origin", "http://127.0.0.2:8000"},
                     {"Access-Control-Request-Method", method},
                     {"Access-Control-Request-Headers", "authorization, last-event-id"}};
        auto r = http_request(hub(), "OPTIONS", "/events", {}, o);

        EXPECT_EQ(r.status, 204) << method;
        EXPECT_EQ(r.header("Access-Control-Allow-Origin").value_or(""), "http://127.0.0.2:8000");
        EXPECT_EQ(r.header("Access-Control-Allow-Credentials").value_or(""), "true");
        const auto allowed = r.header("Access-Control-Allow-Headers").value_or("");
        EXPECT_NE(allowed.find("authorization"), std::string::npos) << allowed;
        EXPECT_NE(allowed.find("last-event-id"), std::string::npos) << allowed;
        EXPECT_NE(allowed.find("content-type"), std::string::npos) << allowed;
    }
}

} // namespace
} // namespace ssehub::test
