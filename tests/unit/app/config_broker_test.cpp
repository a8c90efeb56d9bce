// SPDX-License-Identifier: Apache-2.0
#include "app/config_loader.hpp"

#include <gtest/gtest.h>

namespace ssehub::app {
namespace {

command_line broker(std::string url) {
    command_line cli;
    cli.settings.push_back({"broker.url", flag_name("broker.url"), {std::move(url)}});
    return cli;
}

// A Redis URL must not start a node that silently serves alone while its peers think they
// share clients with it: until the Redis broker exists, start-up says so.
TEST(ConfigBrokerTest, ARedisUrlIsRefusedUntilTheBrokerExists) {
    auto redis = load_config(broker("redis://127.0.0.1:6379/0"), {}, std::nullopt);
    ASSERT_FALSE(redis);
    EXPECT_EQ(redis.error().path, "broker.url");
    EXPECT_NE(redis.error().message.find("not built yet"), std::string::npos)
        << redis.error().message;

    auto memory = load_config(broker("memory"), {}, std::nullopt);
    ASSERT_TRUE(memory) << memory.error().message;
    EXPECT_EQ(memory->broker_url, "memory");

    EXPECT_FALSE(load_config(broker("kafka://x"), {}, std::nullopt));
}

} // namespace
} // namespace ssehub::app
