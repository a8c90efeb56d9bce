// SPDX-License-Identifier: Apache-2.0
#include "core/history.hpp"

#include <gtest/gtest.h>

namespace ssehub::core {
namespace {

event_ptr make(std::uint64_t seq, clock::time_point at = clock::now()) {
    auto e = std::make_shared<event>();
    e->seq = seq;
    e->at = at;
    e->bytes = "x" + std::to_string(seq);
    return e;
}

std::vector<std::uint64_t> seqs(const std::vector<event_ptr>& v) {
    std::vector<std::uint64_t> out;
    for (const auto& e : v) {
        out.push_back(e->seq);
    }
    return out;
}

TEST(HistoryTest, KeepsTheNewestUpToTheCount) {
    history h;
    const history::limits lim{3, std::chrono::minutes(1)};
    for (std::uint64_t s = 1; s <= 5; ++s) {
        h.push(make(s), lim);
    }
    EXPECT_EQ(h.size(), 3u);
    EXPECT_EQ(h.newest(), 5u);
    EXPECT_EQ(h.evicted_through(), 2u);
}

TEST(HistoryTest, CollectsAfterAPositionAndReportsLoss) {
    history h;
    const history::limits lim{3, std::chrono::minutes(1)};
    for (std::uint64_t s : {2ULL, 4ULL, 6ULL, 8ULL, 10ULL}) {
        h.push(make(s), lim);
    }
    std::vector<event_ptr> out;
    EXPECT_TRUE(h.collect_after(6, out));
    EXPECT_EQ(seqs(out), (std::vector<std::uint64_t>{8, 10}));

    out.clear();
    EXPECT_FALSE(h.collect_after(3, out)); // 4 was evicted
    EXPECT_EQ(seqs(out), (std::vector<std::uint64_t>{6, 8, 10}));
}

TEST(HistoryTest, ExpiresByAgeAndCountsBytes) {
    history h;
    const history::limits lim{100, std::chrono::seconds(10)};
    const auto now = clock::now();
    h.push(make(1, now - std::chrono::seconds(20)), lim);
    h.push(make(2, now), lim);
    EXPECT_EQ(h.bytes(), 4u);
    h.expire(now, lim);
    EXPECT_EQ(h.size(), 1u);
    EXPECT_EQ(h.bytes(), 2u);
    EXPECT_EQ(h.evicted_through(), 1u);
}

TEST(HistoryTest, ZeroCountKeepsNothingButRemembersTheLoss) {
    history h;
    h.push(make(7), {0, std::chrono::seconds(1)});
    EXPECT_TRUE(h.empty());
    std::vector<event_ptr> out;
    EXPECT_FALSE(h.collect_after(6, out));
}

} // namespace
} // namespace ssehub::core
