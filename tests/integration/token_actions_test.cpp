// SPDX-License-Identifier: Apache-2.0
//
// DESIGN.md section 5: `{{token.x}}` in the actions of a session whose subscriber was
// authenticated by JWT renders that token's verified claims.

#include "security_support.hpp"

#include <boost/json.hpp>

namespace ssehub::test {
namespace {

namespace json = boost::json;

const std::string secret = "actions-test-subscriber-secret";

std::string token_for(json::object claims) {
    claims["exp"] = unix_now() + 600;
    return sign_jwt(claims, "HS256", secret);
}

subscribe_options with_token(const std::string& token) {
    subscribe_options o;
    o.headers = {{"Authorization", "Bearer " + token}};
    return o;
}

class TokenActionsTest : public hub_test {
protected:
    void SetUp() override {
        start({"--auth-subscribers-mode", "jwt", "--auth-subscribers-jwt-alg", "HS256",
               "--auth-subscribers-jwt-secret", secret, "--session-grace", "0s"});
    }
};

// The claims reach the disconnected actions: `{{token.sub}}` and any other claim, a list
// claim drives conditions.each, and a claim the token lacks renders as "".
TEST_F(TokenActionsTest, DisconnectedActionsSeeTheSubscribersClaims) {
    auto watcher = subscribe("/events?session=watcher",
                             with_token(token_for({{"sub", "w"}, {"sessions", {"watcher"}}})));
    const json::value tell{{"library", "@digipair/skill-sse"},
                           {"element", "push"},
                           {"properties",
                            {{"id", "watcher"},
                             {"message",
                              {{"sub", "{{token.sub}}"},
                               {"team", "{{token.team}}"},
                               {"missing", "<{{token.nope}}>"}}}}}};
    json::value each_room{{"library", "@digipair/skill-sse"},
                          {"element", "push"},
                          {"properties", {{"id", "watcher"}, {"message", "left {{item}}"}}},
                          {"conditions", {{"each", "{{token.channels}}"}}}};
    ASSERT_EQ(actions(pin("registerSession",
                          {{"id", "s1"}, {"disconnected", json::array{tell, each_room}}}))
                  .status,
              200);

    auto alice = subscribe("/events?session=s1&channel=room",
                           with_token(token_for({{"sub", "alice"},
                                                 {"team", "blue"},
                                                 {"sessions", {"s1"}},
                                                 {"channels", {"room", "lobby"}}})));
    alice->socket().close();

    auto first = watcher->next_event(after(10s));
    ASSERT_TRUE(first) << hub().output();
    EXPECT_EQ(first->json(), json::parse(R"({"sub":"alice","team":"blue","missing":"<>"})"));
    auto second = watcher->next_event(after(5s));
    ASSERT_TRUE(second);
    EXPECT_EQ(second->json(), json::value("left room"));
    auto third = watcher->next_event(after(5s));
    ASSERT_TRUE(third);
    EXPECT_EQ(third->json(), json::value("left lobby"));
}

} // namespace
} // namespace ssehub::test
