// SPDX-License-Identifier: Apache-2.0
#include "core/encoder.hpp"

#include <gtest/gtest.h>

namespace ssehub::core {
namespace {

TEST(EncoderTest, WritesTheSkillsBytes) {
    EXPECT_EQ(encode_event("message", "k3f9-1", R"({"text":"Hello, world!"})"),
              "event:message\nid:k3f9-1\ndata:{\"text\":\"Hello, world!\"}\n\n");
}

TEST(EncoderTest, RetryIsWholeMilliseconds) {
    EXPECT_EQ(encode_retry(2000), "retry:2000\n\n");
    EXPECT_EQ(encode_retry(500), "retry:500\n\n");
}

TEST(EncoderTest, CursorIsAnIdOnlyBlock) {
    EXPECT_EQ(encode_cursor("k3f9x2-17"), "id:k3f9x2-17\n\n");
}

TEST(EncoderTest, KeepaliveIsAnEmptyComment) {
    EXPECT_EQ(keepalive_frame, ":\n\n");
}

} // namespace
} // namespace ssehub::core
