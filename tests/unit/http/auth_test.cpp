// SPDX-License-Identifier: Apache-2.0
#include "http/auth.hpp"

#include <gtest/gtest.h>

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
