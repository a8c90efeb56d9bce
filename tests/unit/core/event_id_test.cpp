// SPDX-License-Identifier: Apache-2.0
#include "core/event_id.hpp"

#include <gtest/gtest.h>
#include <memory>
#include <random>

namespace ssehub::core {
namespace {

using status = event_id_codec::status;

TEST(EventIdCodecTest, FormatsEpochDashDecimal) {
    const event_id_codec codec("k3f9");
    EXPECT_EQ(codec.format(1042), "k3f9-1042");
    EXPECT_EQ(codec.format(0), "k3f9-0");
}

TEST(EventIdCodecTest, RoundTripsEveryMagnitude) {
    const event_id_codec codec(event_id_codec::random_epoch());
    for (std::uint64_t seq : {0ULL, 1ULL, 9ULL, 10ULL, 123456789ULL, ~0ULL}) {
        const auto parsed = codec.parse(codec.format(seq));
        EXPECT_EQ(parsed.state, status::ok);
        EXPECT_EQ(parsed.seq, seq);
    }
}

TEST(EventIdCodecTest, RandomEpochIsShortLowercaseBase36) {
    const auto epoch = event_id_codec::random_epoch();
    EXPECT_EQ(epoch.size(), 6u);
    for (char c : epoch) {
        EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')) << epoch;
    }
}

TEST(EventIdCodecTest, AnotherEpochIsRecognisedAsSuch) {
    const event_id_codec mine("aaaaaa");
    const event_id_codec theirs("bbbbbb");
    const auto parsed = mine.parse(theirs.format(7));
    EXPECT_EQ(parsed.state, status::other_epoch);
    EXPECT_EQ(parsed.seq, 7u);
}

TEST(EventIdCodecTest, RejectsMalformedIds) {
    const event_id_codec codec("abc123");
    for (const char* bad :
         {"", "-", "abc123", "abc123-", "-12", "abc123-x", "abc123-01", "abc123--1", "abc123-+1",
          "ABC123-1", "abc123-1 ", " abc123-1", "abc123-18446744073709551616", "abc123-1\n",
          "a b-1", "abcdefghijklmnopq-1"}) {
        EXPECT_EQ(codec.parse(bad).state, status::malformed) << '"' << bad << '"';
    }
}

// Every prefix of a valid id is either malformed or a different, smaller position.
TEST(EventIdCodecTest, EveryTruncationIsSafe) {
    const event_id_codec codec("q1w2e3");
    const std::string id = codec.format(987654321);
    for (std::size_t n = 0; n < id.size(); ++n) {
        const auto parsed = codec.parse(std::string_view(id).substr(0, n));
        if (parsed.state == status::ok) {
            EXPECT_LT(parsed.seq, 987654321u);
        }
    }
}

// Random bytes, and random mutations of a real id: the parser never reads past its input
// (ASan), and accepts only the one spelling the codec writes for a position.
TEST(EventIdCodecTest, RandomBytesAreOnlyAcceptedInCanonicalForm) {
    const event_id_codec codec("q1w2e3");
    std::mt19937 gen(42);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<int> length(0, 40);
    const std::string real = codec.format(1234567);
    std::size_t accepted = 0;
    for (int i = 0; i < 40000; ++i) {
        std::string s;
        if (i % 2 == 0) {
            s.assign(static_cast<std::size_t>(length(gen)), '\0');
            for (char& c : s) {
                c = static_cast<char>(byte(gen));
            }
        } else {
            s = real;
            s[static_cast<std::size_t>(byte(gen)) % s.size()] = static_cast<char>(byte(gen));
        }
        // An exact-size heap copy, so a read past the end is an ASan error.
        const auto copy = std::make_unique<char[]>(s.size() + 1);
        std::copy(s.begin(), s.end(), copy.get());
        const auto parsed = codec.parse(std::string_view(copy.get(), s.size()));
        if (parsed.state == status::ok) {
            ++accepted;
            EXPECT_EQ(codec.format(parsed.seq), s);
        } else if (parsed.state == status::other_epoch) {
            EXPECT_NE(s.substr(0, 6), "q1w2e3");
        }
    }
    EXPECT_GT(accepted, 0u); // some mutations (a digit for a digit) stay valid
}

TEST(EventIdCodecTest, ConstructorRefusesBadEpochs) {
    EXPECT_THROW(event_id_codec(""), std::invalid_argument);
    EXPECT_THROW(event_id_codec("ABC"), std::invalid_argument);
    EXPECT_THROW(event_id_codec("a-b"), std::invalid_argument);
}

} // namespace
} // namespace ssehub::core
