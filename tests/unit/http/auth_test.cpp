// SPDX-License-Identifier: Apache-2.0
#include "http/auth.hpp"

#include <boost/url/parse.hpp>
#include <cstdlib>
#include <gtest/gtest.h>
#include <jwt.h>
#include <memory>

namespace ssehub::http {
namespace {

using namespace std::chrono_literals;

const std::string hash_of_abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

TEST(Sha256Test, MatchesTheStandardVector) {
    EXPECT_EQ(sha256_hex("abc"), hash_of_abc);
}

TEST(PublisherKeyTest, DefaultsToEveryRightInTheDefaultTenant) {
    auto k = parse_publisher_key("sha256:" + hash_of_abc);

    ASSERT_TRUE(k) << k.error().message;
    EXPECT_EQ(k->sha256, hash_of_abc);
    EXPECT_EQ(k->tenant, "");
    EXPECT_TRUE(k->rights.push && k->rights.broadcast && k->rights.membership &&
                k->rights.introspection);
    EXPECT_TRUE(k->rights.allows({"", "any", "thing"}));
}

TEST(PublisherKeyTest, ReadsTenantRightsAndNamespaces) {
    auto k = parse_publisher_key("sha256:" + hash_of_abc +
                                 "  tenant=acme rights=push+introspection namespaces=dp/*+x/y");

    ASSERT_TRUE(k) << k.error().message;
    EXPECT_EQ(k->tenant, "acme");
    EXPECT_TRUE(k->rights.push);
    EXPECT_FALSE(k->rights.broadcast);
    EXPECT_FALSE(k->rights.membership);
    EXPECT_TRUE(k->rights.introspection);
    EXPECT_TRUE(k->rights.allows({"", "dp", "greeting"}));
    EXPECT_TRUE(k->rights.allows({"", "x", "y"}));
    EXPECT_FALSE(k->rights.allows({"", "x", "z"}));
    EXPECT_FALSE(k->rights.allows({"", "", ""}));
}

TEST(PublisherKeyTest, RefusesWhatIsNotAHashedKey) {
    for (const char* text :
         {"plain-secret", "sha256:abc", "sha256:" /* empty */, "tenant=acme", "rights=push"}) {
        EXPECT_FALSE(parse_publisher_key(text)) << text;
    }
    EXPECT_FALSE(parse_publisher_key("sha256:" + hash_of_abc + " rights=fly"));
    EXPECT_FALSE(parse_publisher_key("sha256:" + hash_of_abc + " colour=blue"));
}

TEST(PublisherRightsTest, TheDefaultNamespaceIsASlash) {
    publisher_rights r;
    r.namespaces = {"/"};

    EXPECT_TRUE(r.allows({}));
    EXPECT_FALSE(r.allows({"", "dp", ""}));
}

TEST(SubscriberGrantTest, AllowsOnlyWhatItNames) {
    subscriber_grant g{"", {"alice"}, {"room1", "*"}};
    subscriber_grant none{"", {}, {}};

    EXPECT_TRUE(g.allows_session("alice"));
    EXPECT_FALSE(g.allows_session("bob"));
    EXPECT_TRUE(g.allows_channel("anything"));
    EXPECT_FALSE(none.allows_session("alice"));
    EXPECT_FALSE(none.allows_channel(""));
}

TEST(RateLimiterTest, RefusesPastTheBurstAndRefillsOverTime) {
    rate_limiter limiter(2);
    const auto t0 = clock::now();

    EXPECT_TRUE(limiter.allow("a", t0));
    EXPECT_TRUE(limiter.allow("a", t0));
    EXPECT_FALSE(limiter.allow("a", t0));
    EXPECT_TRUE(limiter.allow("b", t0)) << "each name has its own bucket";
    EXPECT_TRUE(limiter.allow("a", t0 + 500ms));
    EXPECT_FALSE(limiter.allow("a", t0 + 500ms));
}

TEST(RateLimiterTest, IdleBucketsAreDroppedSoManyNamesDoNotAccumulate) {
    rate_limiter limiter(2);
    const auto t0 = clock::now();
    for (int i = 0; i < 10'000; ++i) {
        ASSERT_TRUE(limiter.allow("jwt:t:sub-" + std::to_string(i), t0));
    }
    EXPECT_EQ(limiter.size(), 10'000u);

    // "busy" keeps using its bucket; every other one has been idle for a full refill.
    EXPECT_TRUE(limiter.allow("busy", t0 + 600ms));
    EXPECT_TRUE(limiter.allow("busy", t0 + 1200ms));
    EXPECT_TRUE(limiter.allow("busy", t0 + 1200ms));
    EXPECT_EQ(limiter.size(), 1u);

    // A dropped bucket was full: coming back gives the same burst as before, no more.
    EXPECT_TRUE(limiter.allow("jwt:t:sub-1", t0 + 1300ms));
    EXPECT_TRUE(limiter.allow("jwt:t:sub-1", t0 + 1300ms));
    EXPECT_FALSE(limiter.allow("jwt:t:sub-1", t0 + 1300ms));
    EXPECT_FALSE(limiter.allow("busy", t0 + 1300ms)) << "a bucket in use is never reset";
}

TEST(RateLimiterTest, ZeroMeansNoLimit) {
    rate_limiter limiter(0);
    for (int i = 0; i < 1000; ++i) {
        ASSERT_TRUE(limiter.allow("a"));
    }
}

TEST(RedactTargetTest, HidesTokensOnly) {
    EXPECT_EQ(redact_target("/events?session=s&token=abc.def&channel=c"),
              "/events?session=s&token=***&channel=c");
    EXPECT_EQ(redact_target("/events?token=x"), "/events?token=***");
    EXPECT_EQ(redact_target("/events?mytoken=x"), "/events?mytoken=x");
}

} // namespace
} // namespace ssehub::http

namespace ssehub::http {
namespace {

// An HS256 token of `claims_json`, signed by libjwt as an issuer would.
std::string hs256(const std::string& claims_json, const std::string& secret) {
    jwt_t* raw = nullptr;
    jwt_new(&raw);
    const std::unique_ptr<jwt_t, decltype(&jwt_free)> jwt(raw, &jwt_free);
    jwt_add_grants_json(jwt.get(), claims_json.c_str());
    jwt_set_alg(jwt.get(), JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(secret.data()),
                static_cast<int>(secret.size()));
    char* out = jwt_encode_str(jwt.get());
    std::string token(out);
    std::free(out);
    return token;
}

request with_bearer(const std::string& token) {
    request req{boost::beast::http::verb::get, "/api/v1/sessions", 11};
    req.set(boost::beast::http::field::authorization, "Bearer " + token);
    return req;
}

TEST(AuthenticatorTest, AVerifiedTokenIsAcceptedAgainAndAForgedOneNever) {
    auth_options o;
    o.publisher_jwt.alg = "HS256";
    o.publisher_jwt.secret = "unit-secret";
    authenticator auth(o);
    ASSERT_TRUE(auth.load());
    const std::string claims = R"({"tenant":"acme","rights":["push"],"exp":4102444800})";
    const auto good = hs256(claims, "unit-secret");
    const auto forged = hs256(claims, "other-secret");

    for (int i = 0; i < 2; ++i) {
        auto p = auth.authenticate_publisher(with_bearer(good));
        ASSERT_TRUE(p) << p.error().message;
        EXPECT_EQ(p->tenant, "acme");
        EXPECT_TRUE(p->rights.push);
        EXPECT_FALSE(p->rights.broadcast);
        auto f = auth.authenticate_publisher(with_bearer(forged));
        ASSERT_FALSE(f);
        EXPECT_EQ(f.error().code, errc::unauthorized);
    }
}

TEST(AuthenticatorTest, AnExpiredTokenIsRefusedEvenOnceVerified) {
    auth_options o;
    o.subscriber_mode = "jwt";
    o.subscriber_jwt.alg = "HS256";
    o.subscriber_jwt.secret = "unit-secret";
    authenticator auth(o);
    ASSERT_TRUE(auth.load());
    const auto expired = hs256(R"({"sessions":["a"],"exp":1000})", "unit-secret");
    auto url = boost::urls::parse_origin_form("/events?session=a").value();

    for (int i = 0; i < 2; ++i) {
        auto g = auth.authenticate_subscriber(with_bearer(expired), url);
        ASSERT_FALSE(g);
        EXPECT_NE(g.error().message.find("expired"), std::string::npos);
    }
}

} // namespace
} // namespace ssehub::http
