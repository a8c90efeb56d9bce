// SPDX-License-Identifier: Apache-2.0
//
// The direct HTTPS listener (tls.listen): a certificate made by openssl for this test, curl
// as the client, the same routes and streams as in clear.

#include "security_support.hpp"

#include <thread>

namespace ssehub::test {
namespace {

// A self-signed certificate for 127.0.0.1, valid for a day.
struct certificate {
    std::filesystem::path cert;
    std::filesystem::path key;
};

certificate make_certificate(const temp_dir& dir) {
    certificate c{dir.path() / "cert.pem", dir.path() / "key.pem"};
    auto made =
        run_command("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
                    "-nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
                    "-keyout " +
                    c.key.string() + " -out " + c.cert.string());
    if (made.code != 0) {
        throw std::runtime_error("openssl req failed: " + made.output);
    }
    return c;
}

// The port of `https=HOST:PORT` in the hub's log.
std::uint16_t https_port(const server_process& hub) {
    const auto out = hub.output();
    const auto at = out.find("https=");
    if (at == std::string::npos) {
        return 0;
    }
    const auto colon = out.find(':', at);
    return static_cast<std::uint16_t>(std::atoi(out.c_str() + colon + 1));
}

class TlsTest : public hub_test {
protected:
    void SetUp() override {
        cert_ = make_certificate(dir_);
        start({"--tls-listen", "127.0.0.1:0", "--tls-cert", cert_.cert.string(), "--tls-key",
               cert_.key.string(), "--session-grace", "0s"});
        port_ = https_port(hub());
        ASSERT_NE(port_, 0) << hub().output();
    }

    std::string curl(const std::string& args) {
        return "curl -sS --cacert " + cert_.cert.string() + " " + args;
    }

    std::string url(std::string_view target) {
        return "https://127.0.0.1:" + std::to_string(port_) + std::string(target);
    }

    temp_dir dir_;
    certificate cert_;
    std::uint16_t port_ = 0;
};

TEST_F(TlsTest, TheControlApiAnswersOverHttps) {
    auto health = run_command(curl("-i " + url("/healthz")));
    auto refused = run_command(curl("-i -X POST -H 'Content-Type: application/json' -d '{}' " +
                                    url("/api/v1/sessions/nobody/messages")));

    EXPECT_EQ(health.code, 0) << health.output;
    EXPECT_NE(health.output.find("HTTP/1.1 200"), std::string::npos) << health.output;
    EXPECT_NE(health.output.find("{\"status\":\"ok\"}"), std::string::npos) << health.output;
    EXPECT_NE(refused.output.find("HTTP/1.1 400"), std::string::npos) << refused.output;
    EXPECT_NE(refused.output.find("\"path\":\"message\""), std::string::npos) << refused.output;
}

TEST_F(TlsTest, AStreamOverHttpsReceivesItsEvents) {
    command_result streamed;
    std::thread reader([&] { streamed = run_command(curl("-N " + url("/events?session=s1"))); });

    // Once the session is connected, push to it, then end it so that curl returns.
    bool connected = false;
    for (auto until = after(10s); !connected && clock::now() < until;) {
        auto listed = http_request(hub(), "GET", "/api/v1/sessions");
        connected = listed.body.find("\"connected\":true") != std::string::npos;
        if (!connected) {
            std::this_thread::sleep_for(20ms);
        }
    }
    EXPECT_TRUE(connected);
    auto pushed =
        http_request(hub(), "POST", "/api/v1/sessions/s1/messages", R"({"message":{"tls":true}})");
    EXPECT_EQ(pushed.status, 200) << pushed.body;
    auto kicked = http_request(hub(), "DELETE", "/api/v1/sessions/s1");
    EXPECT_EQ(kicked.status, 200) << kicked.body;
    reader.join();

    EXPECT_NE(streamed.output.find("retry:2000\n\n"), std::string::npos) << streamed.output;
    EXPECT_NE(streamed.output.find("event:message\nid:"), std::string::npos) << streamed.output;
    EXPECT_NE(streamed.output.find("data:{\"tls\":true}\n\n"), std::string::npos)
        << streamed.output;
}

TEST_F(TlsTest, ClearHttpOnTheHttpsPortIsDroppedAndTheHubGoesOn) {
    {
        tcp_client plain("127.0.0.1", port_);
        plain.send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
        EXPECT_TRUE(plain.read_until_closed(after(10s)));
        EXPECT_EQ(plain.received().find("200 OK"), std::string::npos);
    }
    auto health = run_command(curl(url("/healthz")));
    EXPECT_EQ(health.code, 0) << health.output;
}

// F19 B: a client that asks for HTTP/2 settles on http/1.1, the one protocol the hub
// advertises, and its stream carries events.
TEST_F(TlsTest, AlpnSettlesOnHttp11AndTheStreamWorks) {
    auto offered = run_command(curl("--http2 -sv -o /dev/null " + url("/healthz")));
    EXPECT_EQ(offered.code, 0) << offered.output;
    EXPECT_NE(offered.output.find("ALPN: server accepted http/1.1"), std::string::npos)
        << offered.output;
    EXPECT_NE(offered.output.find("< HTTP/1.1 200"), std::string::npos) << offered.output;

    auto h2_only = run_command(curl("--http2-prior-knowledge -sv -o /dev/null " + url("/healthz")));
    EXPECT_EQ(h2_only.output.find("ALPN: server accepted h2"), std::string::npos) << h2_only.output;

    command_result streamed;
    std::thread reader(
        [&] { streamed = run_command(curl("--http2 -sN " + url("/events?session=s2")), 30); });
    bool connected = false;
    for (auto until = after(10s); !connected && clock::now() < until;) {
        connected =
            http_request(hub(), "GET", "/api/v1/sessions").body.find("\"connected\":true") !=
            std::string::npos;
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(connected);
    EXPECT_EQ(
        http_request(hub(), "POST", "/api/v1/sessions/s2/messages", R"({"message":"h"})").status,
        200);
    EXPECT_EQ(http_request(hub(), "DELETE", "/api/v1/sessions/s2").status, 200);
    reader.join();
    EXPECT_NE(streamed.output.find("data:\"h\"\n\n"), std::string::npos) << streamed.output;
}

// Polls /api/v1/sessions until `session` is connected.
bool wait_connected(const server_process& hub, std::string_view session) {
    for (auto until = after(10s); clock::now() < until;) {
        auto listed = http_request(hub, "GET", "/api/v1/sessions");
        const auto at = listed.body.find("\"" + std::string(session) + "\"");
        if (at != std::string::npos &&
            listed.body.find("\"connected\":true", at) != std::string::npos) {
            return true;
        }
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

// DESIGN.md section 4, graceful shutdown, over TLS: what was queued for the stream when
// SIGTERM came reaches the client in full, its last event complete, then the retry hint.
TEST_F(TlsTest, ShutdownFlushesWhatIsQueuedForATlsStream) {
    // A client that reads slowly, so that at the signal most of the stream is still in
    // the hub, and its end passes through the TLS tunnel after the stream itself is done.
    command_result streamed;
    std::thread reader([&] {
        streamed = run_command(curl("-N --limit-rate 400k " + url("/events?session=s1")), 60);
    });
    ASSERT_TRUE(wait_connected(hub(), "s1"));

    constexpr int events = 300;
    const std::string filler(4000, 'f');
    http_client control(hub());
    for (int i = 1; i <= events; ++i) {
        auto r = control.request("POST", "/api/v1/sessions/s1/messages",
                                 R"({"message":{"n":)" + std::to_string(i) + R"(,"f":")" + filler +
                                     R"("}})");
        ASSERT_EQ(r.status, 200) << r.body;
    }
    auto status = hub().stop();
    reader.join();

    EXPECT_TRUE(status.clean()) << status.describe();
    EXPECT_EQ(streamed.code, 0) << "curl saw the stream cut: " << streamed.output.substr(0, 300);
    std::size_t seen = 0;
    for (std::size_t at = 0; (at = streamed.output.find("data:{\"n\":", at)) != std::string::npos;
         ++at) {
        ++seen;
    }
    EXPECT_EQ(seen, static_cast<std::size_t>(events));
    const std::string last =
        R"(data:{"n":)" + std::to_string(events) + R"(,"f":")" + filler + "\"}\n\n";
    const auto last_at = streamed.output.rfind(last);
    ASSERT_NE(last_at, std::string::npos) << "the last event is missing or cut";
    const auto tail = streamed.output.substr(last_at + last.size());
    EXPECT_TRUE(tail.starts_with("retry:")) << tail;
    EXPECT_TRUE(tail.ends_with("\n\n")) << tail;
}

// The command line client over https: the hub's certificate is verified against --ca-file
// and its address; without the right CA, or under another name, it refuses to talk.
TEST_F(TlsTest, TheCliTalksToAnHttpsHubAndVerifiesItsCertificate) {
    const std::string bin = ssehub_binary();
    const std::string https = "--url https://127.0.0.1:" + std::to_string(port_);
    const std::string ca = " --ca-file " + cert_.cert.string();

    command_result tailed;
    std::thread reader(
        [&] { tailed = run_command(bin + " tail " + https + ca + " --session s1 --count 3", 30); });
    ASSERT_TRUE(wait_connected(hub(), "s1"));

    auto pushed = run_command(bin + " push " + https + ca + " s1 '{\"n\":1}'");
    auto broadcast = run_command(bin + " broadcast " + https + ca + " '{\"n\":2}'");
    auto pin = run_command("printf '%s' '{\"library\":\"@digipair/skill-sse\",\"element\":"
                           "\"push\",\"properties\":{\"id\":\"s1\",\"message\":{\"n\":3}}}' | "
                           "env SSEHUB_CA_FILE=" +
                           cert_.cert.string() + " " + bin + " run " + https + " -");
    reader.join();

    EXPECT_EQ(pushed.code, 0) << pushed.output;
    EXPECT_NE(pushed.output.find("\"delivered\":1"), std::string::npos) << pushed.output;
    EXPECT_EQ(broadcast.code, 0) << broadcast.output;
    EXPECT_EQ(pin.code, 0) << pin.output;
    EXPECT_EQ(tailed.code, 0) << tailed.output;
    for (const char* data : {"{\"n\":1}", "{\"n\":2}", "{\"n\":3}"}) {
        EXPECT_NE(tailed.output.find(data), std::string::npos) << tailed.output;
    }

    // The system's CAs do not know this certificate; `localhost` is not the name it holds.
    auto untrusted = run_command(bin + " push " + https + " s1 4");
    auto other_name =
        run_command(bin + " push --url https://localhost:" + std::to_string(port_) + ca + " s1 5");
    auto clear =
        run_command(bin + " push --url http://127.0.0.1:" + std::to_string(port_) + " s1 6");
    EXPECT_EQ(untrusted.code, 3) << untrusted.output;
    EXPECT_NE(untrusted.output.find("certificate verify failed"), std::string::npos)
        << untrusted.output;
    EXPECT_EQ(other_name.code, 3) << other_name.output;
    EXPECT_NE(clear.code, 0) << clear.output;
}

TEST(TlsConfigTest, AMissingCertificateStopsTheStartInOneLine) {
    auto r = run_command(ssehub_binary() +
                         " serve --listen 127.0.0.1:0 --tls-listen 127.0.0.1:0 "
                         "--tls-cert /nonexistent/cert.pem --tls-key /nonexistent/key.pem");

    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find("tls.cert"), std::string::npos) << r.output;
}

TEST(TlsConfigTest, AListenerWithoutItsCertificateIsRefused) {
    auto r = run_command(ssehub_binary() + " serve --listen 127.0.0.1:0 --tls-listen 127.0.0.1:0");

    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find("tls.cert"), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

} // namespace
} // namespace ssehub::test
