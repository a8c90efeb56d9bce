// SPDX-License-Identifier: Apache-2.0
#include "core/validate.hpp"

#include <gtest/gtest.h>

namespace ssehub::core {
namespace {

TEST(ValidateTest, Utf8AcceptsWellFormedText) {
    EXPECT_TRUE(is_valid_utf8(""));
    EXPECT_TRUE(is_valid_utf8("plain"));
    EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9"));
    EXPECT_TRUE(is_valid_utf8("\xF0\x9F\x98\x80")); // U+1F600
    EXPECT_TRUE(is_valid_utf8("\xEF\xBB\xBF"));     // U+FEFF
}

TEST(ValidateTest, Utf8RejectsEachKindOfMalformedSequence) {
    EXPECT_FALSE(is_valid_utf8("\xFF"));
    EXPECT_FALSE(is_valid_utf8("\xE2\x82"));         // truncated
    EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));     // surrogate
    EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));         // overlong
    EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80")); // past U+10FFFF
    EXPECT_FALSE(is_valid_utf8("a\x80"));
}

TEST(ValidateTest, IdRefusesControlCharactersWithItsPath) {
    for (std::string_view bad : {std::string_view("a\nb"), std::string_view("a\rb"),
                                 std::string_view("a\0b", 3), std::string_view("a\x7f")}) {
        auto r = check_id(bad, 128, "properties.id");
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code, errc::bad_request);
        EXPECT_EQ(r.error().path, "properties.id");
    }
}

TEST(ValidateTest, IdRefusesWhitespaceInvalidUtf8AndLength) {
    EXPECT_FALSE(check_id("a b", 128, "id"));
    EXPECT_FALSE(check_id("s\xFF", 128, "id"));
    EXPECT_FALSE(check_id(std::string(129, 'x'), 128, "id"));
    EXPECT_TRUE(check_id(std::string(128, 'x'), 128, "id"));
    EXPECT_TRUE(check_id("session_12345", 128, "id"));
    EXPECT_TRUE(check_id("caf\xC3\xA9:1/2", 128, "id"));
}

TEST(ValidateTest, EmptyIdOnlyWhereAllowed) {
    EXPECT_FALSE(check_id("", 128, "id"));
    EXPECT_TRUE(check_id("", 128, "id", true));
}

TEST(ValidateTest, EventNameKeepsInnerSpacesButNotEdgeWhitespace) {
    EXPECT_TRUE(check_event_name("success", 64, "event"));
    EXPECT_TRUE(check_event_name("Success", 64, "event"));
    EXPECT_TRUE(check_event_name("order updated", 64, "event"));
    EXPECT_FALSE(check_event_name("success ", 64, "event"));
    EXPECT_FALSE(check_event_name(" success", 64, "event"));
    EXPECT_FALSE(check_event_name("success\t", 64, "event"));
    EXPECT_FALSE(check_event_name("", 64, "event"));
    EXPECT_FALSE(check_event_name("chat\ndata:injected", 64, "event"));
    EXPECT_FALSE(check_event_name(std::string_view("a\0", 2), 64, "event"));
    EXPECT_FALSE(check_event_name("\xFF", 64, "event"));
    EXPECT_FALSE(check_event_name(std::string(65, 'e'), 64, "event"));
}

} // namespace
} // namespace ssehub::core
