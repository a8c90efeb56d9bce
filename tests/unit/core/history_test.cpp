// SPDX-License-Identifier: Apache-2.0
#include "core/history.hpp"

#include <gtest/gtest.h>
#include <memory>

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

event_ptr sized(std::uint64_t seq, std::size_t size) {
    auto e = std::make_shared<event>();
    e->seq = seq;
    e->at = clock::now();
    e->bytes.assign(size, 'x');
    return e;
}

constexpr std::size_t per_event = history_budget::event_overhead;

// history.max_bytes: past the budget the oldest event of any ring goes first, and the
// ring that lost it says so to a resume.
TEST(HistoryBudgetTest, EvictsTheOldestEventOfAnyRingFirst) {
    history_budget budget(4 * (100 + per_event));
    history a(&budget);
    history b(&budget);
    const history::limits lim{100, std::chrono::minutes(1)};
    a.push(sized(1, 100), lim);
    b.push(sized(2, 100), lim);
    a.push(sized(3, 100), lim);
    b.push(sized(4, 100), lim);
    EXPECT_EQ(budget.enforce(), 0u);
    EXPECT_EQ(budget.charged(), 4 * (100 + per_event));

    b.push(sized(5, 100), lim);
    EXPECT_EQ(budget.enforce(), 1u);
    EXPECT_EQ(a.oldest(), 3u); // seq 1 went, from ring a
    EXPECT_EQ(b.oldest(), 2u);
    std::vector<event_ptr> out;
    EXPECT_FALSE(a.collect_after(0, out));
    EXPECT_TRUE(b.collect_after(0, out));

    a.push(sized(6, 300), lim);
    EXPECT_EQ(budget.enforce(), 2u); // seqs 2 and 3
    EXPECT_EQ(b.oldest(), 4u);
    EXPECT_EQ(a.oldest(), 6u);
    EXPECT_LE(budget.charged(), budget.max_bytes());
    EXPECT_EQ(budget.charged(), a.bytes() + b.bytes() + (a.size() + b.size()) * per_event);
}

TEST(HistoryBudgetTest, RingsGivenUpReleaseTheirCharge) {
    history_budget budget(1u << 20);
    const history::limits lim{2, std::chrono::seconds(10)};
    {
        history a(&budget);
        for (std::uint64_t s = 1; s <= 5; ++s) {
            a.push(sized(s, 10), lim);
        }
        EXPECT_EQ(budget.charged(), 2 * (10 + per_event)); // count evictions are released
        EXPECT_EQ(budget.rings(), 1u);
        a.expire(clock::now() + std::chrono::seconds(11), lim);
        EXPECT_EQ(budget.charged(), 0u);
        EXPECT_EQ(budget.rings(), 0u);
        a.push(sized(6, 10), lim);
    }
    EXPECT_EQ(budget.charged(), 0u);
    EXPECT_EQ(budget.rings(), 0u);
}

// However many rings and however small the events, the charge never passes the budget
// once enforced: memory is bounded by max_bytes, not by the number of streams.
TEST(HistoryBudgetTest, ManySmallRingsStayWithinTheBudget) {
    history_budget budget(64u << 10);
    std::vector<std::unique_ptr<history>> rings;
    const history::limits lim{1000, std::chrono::minutes(5)};
    std::uint64_t seq = 0;
    for (int r = 0; r < 2000; ++r) {
        rings.push_back(std::make_unique<history>(&budget));
        for (int k = 0; k < 3; ++k) {
            rings.back()->push(sized(++seq, 8), lim);
            budget.enforce();
            ASSERT_LE(budget.charged(), budget.max_bytes());
        }
    }
    std::size_t held = 0;
    for (const auto& r : rings) {
        held += r->size();
    }
    EXPECT_EQ(held, budget.max_bytes() / (8 + per_event));

    // Oldest first: exactly the newest `held` events survive.
    for (const auto& r : rings) {
        if (!r->empty()) {
            EXPECT_GT(r->oldest(), seq - held);
        }
    }
}

} // namespace
} // namespace ssehub::core
