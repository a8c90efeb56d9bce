// SPDX-License-Identifier: Apache-2.0
#include "app/config_loader.hpp"

#include <gtest/gtest.h>

namespace ssehub::app {
namespace {

using namespace std::chrono_literals;

command_line flag(std::string key, std::string value) {
    command_line cli;
    auto name = flag_name(key);
    cli.settings.push_back({std::move(key), std::move(name), {std::move(value)}});
    return cli;
}

// The webhook queue's bounds are keys of the one table: file, environment and flag.
TEST(ConfigWebhooksTest, QueueConcurrencyAndBackoffComeFromEverySource) {
    auto defaults = load_config({}, {}, std::nullopt);
    ASSERT_TRUE(defaults) << defaults.error().message;
    EXPECT_EQ(defaults->webhooks_queue, 10'000u);
    EXPECT_EQ(defaults->webhooks_concurrency, 32u);
    EXPECT_EQ(defaults->webhooks_backoff, 200ms);

    const config_file file{"hub.toml",
                           "[webhooks]\nqueue = 50\nconcurrency = 4\nbackoff = \"1s\"\n"};
    auto from_file = load_config({}, {}, file);
    ASSERT_TRUE(from_file) << from_file.error().message;
    EXPECT_EQ(from_file->webhooks_queue, 50u);
    EXPECT_EQ(from_file->webhooks_concurrency, 4u);
    EXPECT_EQ(from_file->webhooks_backoff, 1s);

    const std::vector<env_var> env{{"SSEHUB_WEBHOOKS_CONCURRENCY", "8"}};
    auto from_env = load_config(flag("webhooks.queue", "7"), env, file);
    ASSERT_TRUE(from_env) << from_env.error().message;
    EXPECT_EQ(from_env->webhooks_queue, 7u) << "the flag wins over the file";
    EXPECT_EQ(from_env->webhooks_concurrency, 8u) << "the environment wins over the file";
}

TEST(ConfigWebhooksTest, AZeroQueueOrConcurrencyIsRefused) {
    for (const char* key : {"webhooks.queue", "webhooks.concurrency"}) {
        auto r = load_config(flag(key, "0"), {}, std::nullopt);
        ASSERT_FALSE(r) << key;
        EXPECT_EQ(r.error().path, key);
    }
    auto r = load_config(flag("webhooks.backoff", "soon"), {}, std::nullopt);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().path, "webhooks.backoff");
}

} // namespace
} // namespace ssehub::app
