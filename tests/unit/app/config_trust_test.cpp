// SPDX-License-Identifier: Apache-2.0
#include "app/config_loader.hpp"

#include <gtest/gtest.h>

namespace ssehub::app {
namespace {

const std::string key = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

command_line settings(std::vector<std::pair<std::string, std::string>> pairs) {
    command_line cli;
    for (auto& [k, v] : pairs) {
        cli.settings.push_back({k, flag_name(k), {v}});
    }
    return cli;
}

TEST(ConfigTrustTest, BeyondLoopbackNeedsPublisherCredentials) {
    auto refused = load_config(settings({{"server.listen", "0.0.0.0:8080"}}), {}, std::nullopt);
    auto keyed =
        load_config(settings({{"server.listen", "0.0.0.0:8080"}, {"auth.publishers.keys", key}}),
                    {}, std::nullopt);
    auto tokens = load_config(settings({{"server.listen", "[::]:8080"},
                                        {"auth.publishers.jwt_alg", "HS256"},
                                        {"auth.publishers.jwt_secret", "s"}}),
                              {}, std::nullopt);

    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().path, "server.listen");
    EXPECT_NE(refused.error().message.find("auth.publishers.keys"), std::string::npos);
    ASSERT_TRUE(keyed) << keyed.error().message;
    EXPECT_EQ(keyed->server.address, "0.0.0.0");
    ASSERT_TRUE(tokens) << tokens.error().message;
}

TEST(ConfigTrustTest, TheHttpsListenerFollowsTheSameRule) {
    auto refused = load_config(
        settings({{"tls.listen", "0.0.0.0:8443"}, {"tls.cert", "c.pem"}, {"tls.key", "k.pem"}}), {},
        std::nullopt);
    auto incomplete = load_config(settings({{"tls.listen", "127.0.0.1:8443"}}), {}, std::nullopt);
    auto loopback = load_config(
        settings({{"tls.listen", "127.0.0.1:8443"}, {"tls.cert", "c.pem"}, {"tls.key", "k.pem"}}),
        {}, std::nullopt);

    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().path, "tls.listen");
    ASSERT_FALSE(incomplete);
    EXPECT_NE(incomplete.error().message.find("tls.cert"), std::string::npos);
    EXPECT_TRUE(loopback);
}

TEST(ConfigTrustTest, KeysFromTheFileAndTheEnvironment) {
    const config_file file{"hub.toml", "[auth.publishers]\nkeys = [\"" + key +
                                           " tenant=acme rights=push\"]\n[auth.subscribers]\n"
                                           "mode = \"jwt\"\njwt_alg = \"HS256\"\n"};
    const std::vector<env_var> env{{"SSEHUB_AUTH_SUBSCRIBERS_JWT_SECRET", "from-env"},
                                   {"SSEHUB_TOKEN", "a client's token, not a setting"}};

    auto cfg = load_config({}, env, file);

    ASSERT_TRUE(cfg) << cfg.error().message;
    ASSERT_EQ(cfg->server.auth.publisher_keys.size(), 1u);
    EXPECT_EQ(cfg->server.auth.subscriber_mode, "jwt");
    EXPECT_EQ(cfg->server.auth.subscriber_jwt.secret, "from-env");
}

TEST(ConfigTrustTest, RefusesWhatCouldNeverWork) {
    const std::vector<std::pair<std::string, std::string>> bad[] = {
        {{"auth.publishers.keys", "plain"}},
        {{"auth.publishers.jwt_alg", "none"}},
        {{"auth.publishers.jwt_alg", "HS256"}},
        {{"auth.subscribers.mode", "jwt"}},
        {{"auth.subscribers.mode", "cookie"}},
        {{"cors.allow_origins", "*"}, {"cors.allow_credentials", "true"}},
        {{"tls.listen", "nowhere"}},
        {{"limits.headers", "10"}},
    };
    for (const auto& pairs : bad) {
        auto cfg = load_config(settings(pairs), {}, std::nullopt);
        EXPECT_FALSE(cfg) << pairs.front().first << " = " << pairs.front().second;
        if (!cfg) {
            EXPECT_EQ(cfg.error().message.find('\n'), std::string::npos);
        }
    }
}

} // namespace
} // namespace ssehub::app
