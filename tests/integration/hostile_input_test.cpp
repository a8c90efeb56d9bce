// SPDX-License-Identifier: Apache-2.0
//
// The catalogue of hostile input (issue "Trust"): malformed HTTP, smuggling attempts, slow and
// huge heads, invalid UTF-8, deep JSON, wrong types, CR/LF in ids and names, forged and expired
// tokens, oversized bodies. Each one gets its own clear answer while a control client, on its
// own stream, keeps receiving every event and nothing else.

#include "security_support.hpp"

namespace ssehub::test {
namespace {

namespace json = boost::json;

const std::string admin_key = "catalogue-admin-key";
const std::string secret = "catalogue-subscriber-secret";

// One abusive input: the bytes, and the status it must get (0: the hub closes the
// connection without answering, as for a request that never completes).
struct hostile_case {
    std::string name;
    std::string bytes;
    int status;
};

std::string request(std::string_view method, std::string_view target,
                    std::vector<std::string> headers = {}, std::string_view body = {},
                    bool with_length = true) {
    std::string out = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\n";
    out += "Host: 127.0.0.1\r\nConnection: close\r\n";
    for (const auto& h : headers) {
        out += h + "\r\n";
    }
    if (with_length && (!body.empty() || method == "POST" || method == "PUT")) {
        out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    out += "\r\n";
    out += body;
    return out;
}

std::string auth() {
    return "Authorization: Bearer " + admin_key;
}

std::string post_json(std::string_view target, std::string_view body) {
    return request("POST", target, {auth(), "Content-Type: application/json"}, body);
}

std::string subscriber_token(json::array sessions, json::array channels, std::int64_t exp_in,
                             const std::string& key = secret, std::string_view alg = "HS256") {
    json::object claims{{"sessions", std::move(sessions)},
                        {"channels", std::move(channels)},
                        {"exp", unix_now() + exp_in}};
    return sign_jwt(claims, alg, key);
}

std::vector<hostile_case> catalogue() {
    const std::string ok_token = subscriber_token({"*"}, {"*"}, 600);
    const std::string push = "/api/v1/sessions/victim/messages";
    std::vector<hostile_case> c;

    // Broken HTTP.
    c.push_back({"garbage line", "GARBAGE\r\n\r\n", 400});
    c.push_back({"method only", "GET\r\n\r\n", 400});
    c.push_back({"bad version", "GET /healthz HTTP/9.x\r\nHost: a\r\n\r\n", 400});
    c.push_back(
        {"header without colon", "GET /healthz HTTP/1.1\r\nHost: a\r\nBroken\r\n\r\n", 400});
    c.push_back({"space in header name", "GET /healthz HTTP/1.1\r\nBad Name: v\r\n\r\n", 400});
    c.push_back({"NUL in request line", std::string("GET /heal\0thz HTTP/1.1\r\n\r\n", 26), 400});
    c.push_back({"control byte in header value",
                 "GET /healthz HTTP/1.1\r\nHost: a\r\nX: a\x01"
                 "b\r\n\r\n",
                 400});
    c.push_back({"absolute-form target", request("GET", "http://evil.test/healthz"), 400});
    c.push_back({"asterisk target", request("GET", "*"), 400});
    c.push_back({"unknown route", request("GET", "/api/v1/nothing", {auth()}), 404});
    c.push_back({"wrong method on a stream", request("DELETE", "/events"), 405});
    c.push_back({"wrong method on the API", request("PATCH", "/api/v1/sessions", {auth()}), 405});

    // Bodies and smuggling.
    c.push_back({"non-numeric Content-Length",
                 "POST " + push + " HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", 400});
    c.push_back({"negative Content-Length",
                 "POST " + push + " HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n", 400});
    c.push_back({"two different Content-Lengths",
                 "POST " + push +
                     " HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                     "Content-Length: 6\r\n\r\n{\"a\":1}",
                 400});
    c.push_back({"Content-Length and chunked together",
                 "POST " + push + " HTTP/1.1\r\nHost: a\r\n" + auth() +
                     "\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
                 400});
    c.push_back({"chunked not last",
                 "POST " + push +
                     " HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
                     "0\r\n\r\n",
                 400});
    c.push_back({"unknown transfer coding alone",
                 "POST " + push +
                     " HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"
                     "0\r\n\r\n",
                 400});
    c.push_back({"chunked twice",
                 "POST " + push +
                     " HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                 400});
    c.push_back({"bad chunk size",
                 "POST " + push +
                     " HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "zz\r\nabc\r\n0\r\n\r\n",
                 400});
    c.push_back({"chunk size overflow",
                 "POST " + push +
                     " HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "fffffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
                 400});
    c.push_back({"body over limits.body",
                 post_json(push, "{\"message\":\"" + std::string(70 * 1024, 'x') + "\"}"), 413});
    c.push_back({"chunked body over limits.body",
                 "POST " + push + " HTTP/1.1\r\nHost: a\r\n" + auth() +
                     "\r\nTransfer-Encoding: chunked\r\n\r\n10000\r\n" + std::string(0x10000, 'x') +
                     "\r\n10000\r\n" + std::string(0x10000, 'x') + "\r\n0\r\n\r\n",
                 413});
    c.push_back({"message over limits.message",
                 post_json(push, "{\"message\":\"" + std::string(20 * 1024, 'x') + "\"}"), 413});

    // Heads: huge, and never finished.
    c.push_back({"request line over limits.headers",
                 request("GET", "/healthz?" + std::string(9000, 'a')), 431});
    c.push_back({"one header over limits.headers",
                 request("GET", "/healthz", {"X-Big: " + std::string(9000, 'b')}), 431});
    std::vector<std::string> many;
    for (int i = 0; i < 1000; ++i) {
        many.push_back("X-" + std::to_string(i) + ": v");
    }
    c.push_back({"a thousand headers", request("GET", "/healthz", many), 431});
    c.push_back({"slow headers", "GET /healthz HTTP/1.1\r\nHost: a\r\nX-Slow: 1\r\n", 408});
    c.push_back({"body that never comes",
                 "POST " + push + " HTTP/1.1\r\nHost: a\r\n" + auth() +
                     "\r\nContent-Length: 100\r\n\r\n{\"message\":",
                 408});

    // JSON: malformed, deep, wrong types, invalid UTF-8.
    c.push_back({"not JSON", post_json(push, "hello"), 400});
    c.push_back({"truncated JSON", post_json(push, "{\"message\":"), 400});
    c.push_back({"JSON array body", post_json(push, "[1,2]"), 400});
    c.push_back({"deeply nested JSON", post_json(push, std::string(10000, '[')), 400});
    c.push_back(
        {"deeply nested message",
         post_json(push, "{\"message\":" + std::string(200, '[') + std::string(200, ']') + "}"),
         400});
    c.push_back({"message missing", post_json(push, "{\"event\":\"e\"}"), 400});
    c.push_back({"event of the wrong type", post_json(push, "{\"message\":1,\"event\":7}"), 400});
    c.push_back({"unknown property", post_json(push, "{\"message\":1,\"evil\":true}"), 400});
    c.push_back({"raw 0xFF in a string", post_json(push, "{\"message\":\"a\xff\"}"), 400});
    c.push_back({"truncated UTF-8", post_json(push, "{\"message\":\"\xe2\x82\"}"), 400});
    c.push_back({"encoded surrogate", post_json(push, "{\"message\":\"\xed\xa0\x80\"}"), 400});
    c.push_back({"overlong slash", post_json(push, "{\"message\":\"\xc0\xaf\"}"), 400});
    c.push_back(
        {"0xFF in an event name", post_json(push, "{\"message\":1,\"event\":\"a\xff\"}"), 400});
    c.push_back({"CR LF in an event name",
                 post_json(push, "{\"message\":1,\"event\":\"a\\r\\ndata:evil\"}"), 400});
    c.push_back(
        {"NUL in an event name", post_json(push, "{\"message\":1,\"event\":\"a\\u0000\"}"), 400});
    c.push_back({"event name too long",
                 post_json(push, "{\"message\":1,\"event\":\"" + std::string(65, 'e') + "\"}"),
                 400});
    c.push_back({"LF in a session id",
                 post_json("/api/v1/sessions/a%0Ab/messages", "{\"message\":1}"), 400});
    c.push_back({"NUL in a channel id",
                 post_json("/api/v1/channels/c%00x/messages", "{\"message\":1}"), 400});
    c.push_back(
        {"session id too long",
         post_json("/api/v1/sessions/" + std::string(129, 's') + "/messages", "{\"message\":1}"),
         400});

    // Pins.
    c.push_back({"a number as a pin", post_json("/api/v1/actions", "42"), 400});
    c.push_back(
        {"unknown element",
         post_json("/api/v1/actions", R"({"library":"@digipair/skill-sse","element":"explode"})"),
         400});
    c.push_back({"properties of the wrong type",
                 post_json("/api/v1/actions",
                           R"({"library":"@digipair/skill-sse","element":"push","properties":[]})"),
                 400});
    c.push_back(
        {"push id of the wrong type",
         post_json("/api/v1/actions", R"({"library":"@digipair/skill-sse","element":"push",)"
                                      R"("properties":{"id":5,"message":1}})"),
         400});
    c.push_back(
        {"CR LF in a pin's session id",
         post_json("/api/v1/actions", R"({"library":"@digipair/skill-sse","element":"push",)"
                                      R"("properties":{"id":"control\r\n","message":1}})"),
         400});
    c.push_back(
        {"one bad pin stops the document",
         post_json("/api/v1/actions",
                   R"([{"library":"@digipair/skill-sse","element":"push",)"
                   R"("properties":{"id":"control","message":"never"}},)"
                   R"({"library":"@digipair/skill-sse","element":"push","properties":{}}])"),
         400});
    c.push_back(
        {"an unevaluable expression",
         post_json("/api/v1/actions",
                   R"({"library":"@digipair/skill-sse","element":"push",)"
                   R"("properties":{"id":"control","message":1},"conditions":{"if":"x > 1"}})"),
         400});

    // Subscriptions (F27), with a valid token so only the parameter is wrong.
    const std::string t = "&token=" + ok_token;
    c.push_back({"stream session too long",
                 request("GET", "/events?session=" + std::string(129, 's') + t), 400});
    c.push_back({"stream session with LF", request("GET", "/events?session=a%0Ab" + t), 400});
    c.push_back({"stream session with 0xFF", request("GET", "/events?session=s%FF" + t), 400});
    c.push_back(
        {"stream channel with NUL", request("GET", "/events?session=x1&channel=c%00x" + t), 400});
    c.push_back({"stream with too many channels",
                 request("GET", "/events?session=x2&channel=a&channel=b&channel=c&channel=d"
                                "&channel=e" +
                                    t),
                 429});
    c.push_back({"stream POST with truncated JSON",
                 request("POST", "/events?session=x3" + t, {"Content-Type: application/json"},
                         "{\"userId\":"),
                 400});

    // Tokens.
    c.push_back({"stream without a token", request("GET", "/events?session=control"), 401});
    c.push_back({"stream with a forged token",
                 request("GET", "/events?session=control&token=" +
                                    subscriber_token({"*"}, {"*"}, 600, "wrong-secret")),
                 401});
    c.push_back(
        {"stream with an expired token",
         request("GET", "/events?session=control&token=" + subscriber_token({"*"}, {"*"}, -10)),
         401});
    c.push_back({"stream with an unsigned token",
                 request("GET", "/events?session=control&token=" +
                                    subscriber_token({"*"}, {"*"}, 600, "", "none")),
                 401});
    c.push_back(
        {"stream with a garbage token", request("GET", "/events?session=control&token=abc"), 401});
    c.push_back(
        {"taking the control session with another's token",
         request("GET", "/events?session=control&token=" + subscriber_token({"other"}, {"*"}, 600)),
         403});
    c.push_back({"publishing without a key", request("POST", push, {}, "{\"message\":1}"), 401});
    c.push_back({"publishing with a wrong key",
                 request("POST", push, {"Authorization: Bearer nope"}, "{\"message\":1}"), 401});
    c.push_back({"publishing with an empty bearer",
                 request("POST", push, {"Authorization: Bearer "}, "{\"message\":1}"), 401});
    c.push_back(
        {"publishing with basic auth",
         request("POST", push, {"Authorization: Basic YWRtaW46YWRtaW4="}, "{\"message\":1}"), 401});
    c.push_back({"publishing with a subscriber token",
                 request("POST", "/api/v1/sessions/control/messages",
                         {"Authorization: Bearer " + ok_token}, "{\"message\":\"forged\"}"),
                 401});
    c.push_back({"an origin off the allow-list",
                 request("GET", "/events?session=x4" + t, {"Origin: http://evil.test"}), 403});
    return c;
}

// The first status code of a response, or 0 when nothing came.
int status_of(const std::string& received) {
    if (received.size() < 12 || !received.starts_with("HTTP/1.")) {
        return 0;
    }
    return std::atoi(received.c_str() + 9);
}

class HostileInputTest : public hub_test {};

TEST_F(HostileInputTest, EveryAbusiveInputGetsItsErrorAndTheControlStreamMissesNothing) {
    start({"--auth-publishers-keys",
           "sha256:" + sha256_hex(admin_key),
           "--auth-subscribers-mode",
           "jwt",
           "--auth-subscribers-jwt-alg",
           "HS256",
           "--auth-subscribers-jwt-secret",
           secret,
           "--limits-body",
           "64KiB",
           "--limits-message",
           "16KiB",
           "--limits-headers",
           "8KiB",
           "--limits-channels-per-session",
           "4",
           "--server-request-timeout",
           "2s",
           "--limits-head-timeout",
           "1s",
           "--cors-allow-origins",
           "http://good.test",
           "--session-grace",
           "0s"});
    const auto cases = catalogue();
    ASSERT_GE(cases.size(), 60u);

    auto control =
        subscribe("/events?session=control&token=" + subscriber_token({"control"}, {}, 600));
    const request_options admin = bearer(admin_key);

    for (std::size_t i = 0; i < cases.size(); ++i) {
        const auto& c = cases[i];
        SCOPED_TRACE(c.name);
        {
            tcp_client client(hub().host(), hub().port());
            client.send(c.bytes);
            client.read_until_closed(after(10s));
            const auto& got = client.received();
            EXPECT_EQ(status_of(got), c.status) << c.name << ": " << got.substr(0, 300);
            if (c.status != 0 && status_of(got) == c.status) {
                const auto body_at = got.find("\r\n\r\n");
                auto body = json::parse(got.substr(body_at + 4));
                EXPECT_TRUE(body.at("error").at("code").is_string()) << c.name;
                EXPECT_NE(got.find("Content-Type: application/json"), std::string::npos) << c.name;
            }
            EXPECT_EQ(got.find("text/event-stream"), std::string::npos) << c.name;
        }

        // The control stream still receives, in order, exactly what was sent to it.
        auto r = http_request(hub(), "POST", "/api/v1/sessions/control/messages",
                              R"({"message":)" + std::to_string(i) + "}", admin);
        ASSERT_EQ(r.status, 200) << c.name << ": " << r.body;
        auto e = control->next_event(after(5s));
        ASSERT_TRUE(e) << "control event " << i << " after " << c.name;
        EXPECT_TRUE(is_event(*e, "message", std::to_string(i))) << c.name;
    }

    // Nothing else reached it, and nothing that was refused was created.
    EXPECT_FALSE(control->next_event(after(300ms)));
    auto sessions = http_request(hub(), "GET", "/api/v1/sessions", {}, admin);
    for (const char* id : {"victim", "x1", "x2", "x3", "x4", "other"}) {
        EXPECT_EQ(sessions.body.find(std::string("\"") + id + "\""), std::string::npos)
            << id << " in " << sessions.body;
    }
    auto metrics = http_request(hub(), "GET", "/metrics", {}, admin);
    for (const char* status : {"400", "401", "403", "408", "413", "429", "431"}) {
        EXPECT_GT(metric_value(metrics.body, "ssehub_request_refusals_total{status=\"" +
                                                 std::string(status) + "\"}"),
                  0)
            << status;
    }
}

} // namespace
} // namespace ssehub::test
