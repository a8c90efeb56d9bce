// SPDX-License-Identifier: Apache-2.0
#include "actions/webhook.hpp"

#include <gtest/gtest.h>

namespace {

using ssehub::actions::webhook_allowed;
using ssehub::actions::webhook_signature;

TEST(WebhookAllowedTest, APrefixEndingInSlashAdmitsEverythingBelowIt) {
    const std::vector<std::string> allow{"http://127.0.0.1:9000/hooks/"};
    EXPECT_TRUE(webhook_allowed("http://127.0.0.1:9000/hooks/left", allow));
    EXPECT_TRUE(webhook_allowed("http://127.0.0.1:9000/hooks/", allow));
    EXPECT_FALSE(webhook_allowed("http://127.0.0.1:9000/hooksx", allow));
    EXPECT_FALSE(webhook_allowed("http://127.0.0.1:9000/", allow));
}

// The prefix `http://127.0.0.1:9000` must not admit port 90001 nor another host that
// starts with the same text.
TEST(WebhookAllowedTest, APrefixWithoutSlashStopsAtABoundary) {
    const std::vector<std::string> allow{"http://127.0.0.1:9000"};
    EXPECT_TRUE(webhook_allowed("http://127.0.0.1:9000", allow));
    EXPECT_TRUE(webhook_allowed("http://127.0.0.1:9000/x", allow));
    EXPECT_TRUE(webhook_allowed("http://127.0.0.1:9000?x=1", allow));
    EXPECT_FALSE(webhook_allowed("http://127.0.0.1:90001/", allow));
    EXPECT_FALSE(webhook_allowed("http://127.0.0.1:9000.evil.example/", allow));
    EXPECT_FALSE(webhook_allowed("http://127.0.0.1:9000/", {}));
}

// RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
TEST(WebhookSignatureTest, IsTheHexHmacSha256OfTheBody) {
    EXPECT_EQ(webhook_signature("Jefe", "what do ya want for nothing?"),
              "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

} // namespace
