// SPDX-License-Identifier: Apache-2.0
//
// https:// webhooks: a receiver on loopback that speaks TLS with a certificate the openssl
// command makes for this test. The hub trusts it only through webhooks.ca_file, and only
// for the address the certificate names.

#include "security_support.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json.hpp>
#include <mutex>
#include <thread>

namespace ssehub::test {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast_http = boost::beast::http;
namespace json = boost::json;

/// A self-signed certificate naming `address` in its subjectAltName, valid for a day.
struct certificate {
    std::filesystem::path cert;
    std::filesystem::path key;
};

certificate make_certificate(const temp_dir& dir, const std::string& address) {
    certificate c{dir.path() / ("cert-" + address + ".pem"),
                  dir.path() / ("key-" + address + ".pem")};
    auto made = run_command("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
                            "-nodes -days 1 -subj /CN=" +
                            address + " -addext subjectAltName=IP:" + address + " -keyout " +
                            c.key.string() + " -out " + c.cert.string());
    if (made.code != 0) {
        throw std::runtime_error("openssl req failed: " + made.output);
    }
    return c;
}

/// An HTTPS receiver on 127.0.0.1 with its own thread: it records the body of each request
/// whose TLS handshake completed, and answers 200.
class tls_receiver {
public:
    explicit tls_receiver(const certificate& c) : tls_(ssl::context::tls_server), acceptor_(ioc_) {
        tls_.use_certificate_chain_file(c.cert.string());
        tls_.use_private_key_file(c.key.string(), ssl::context::pem);
        const asio::ip::tcp::endpoint any{asio::ip::make_address("127.0.0.1"), 0};
        acceptor_.open(any.protocol());
        acceptor_.bind(any);
        acceptor_.listen();
        accept();
        thread_ = std::thread([this] { ioc_.run(); });
    }

    ~tls_receiver() {
        ioc_.stop();
        thread_.join();
    }

    tls_receiver(const tls_receiver&) = delete;
    tls_receiver& operator=(const tls_receiver&) = delete;

    std::string url(std::string_view path = "/") const {
        return "https://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) +
               std::string(path);
    }

    std::vector<std::string> bodies() {
        std::lock_guard lock(mu_);
        return bodies_;
    }

    std::size_t handshakes_failed() {
        std::lock_guard lock(mu_);
        return handshakes_failed_;
    }

private:
    struct connection {
        connection(asio::ip::tcp::socket s, ssl::context& c) : stream(std::move(s), c) {}

        ssl::stream<asio::ip::tcp::socket> stream;
        boost::beast::flat_buffer buffer;
        beast_http::request<beast_http::string_body> request;
        beast_http::response<beast_http::string_body> response;
    };

    void accept() {
        acceptor_.async_accept([this](boost::system::error_code ec, asio::ip::tcp::socket s) {
            if (ec) {
                return;
            }
            auto c = std::make_shared<connection>(std::move(s), tls_);
            c->stream.async_handshake(ssl::stream_base::server,
                                      [this, c](boost::system::error_code hec) {
                                          if (hec) {
                                              std::lock_guard lock(mu_);
                                              ++handshakes_failed_;
                                              return;
                                          }
                                          read(c);
                                      });
            accept();
        });
    }

    void read(const std::shared_ptr<connection>& c) {
        beast_http::async_read(
            c->stream, c->buffer, c->request, [this, c](boost::system::error_code ec, std::size_t) {
                if (ec) {
                    return;
                }
                {
                    std::lock_guard lock(mu_);
                    bodies_.push_back(c->request.body());
                }
                c->response.result(200);
                c->response.version(11);
                c->response.keep_alive(false);
                c->response.prepare_payload();
                beast_http::async_write(c->stream, c->response,
                                        [c](boost::system::error_code, std::size_t) {});
            });
    }

    asio::io_context ioc_;
    ssl::context tls_;
    asio::ip::tcp::acceptor acceptor_;
    std::thread thread_;

    std::mutex mu_;
    std::vector<std::string> bodies_;
    std::size_t handshakes_failed_ = 0;
};

json::value webhook_session(const std::string& url) {
    return pin(
        "registerSession",
        {{"id", "s1"},
         {"disconnected",
          json::array{{{"library", "ssehub"},
                       {"element", "webhook"},
                       {"properties",
                        {{"url", url},
                         {"body", {{"session", "{{session.id}}"}, {"reason", "{{reason}}"}}}}}}}}});
}

/// Polls /metrics until `ssehub_<name>` is `value` or 10 s pass; returns the last value.
long long metric_reaching(const server_process& hub, const std::string& name, long long value) {
    long long last = -1;
    for (const auto deadline = after(10s); clock::now() < deadline;) {
        last = metric_value(http_request(hub, "GET", "/metrics").body, "ssehub_" + name);
        if (last == value) {
            break;
        }
        std::this_thread::sleep_for(20ms);
    }
    return last;
}

class WebhookTlsTest : public hub_test {
protected:
    temp_dir dir_;
};

// webhooks.ca_file trusts the receiver's own certificate: the call goes over TLS.
TEST_F(WebhookTlsTest, AnHttpsReceiverTrustedThroughTheCaFileGetsTheCall) {
    const auto cert = make_certificate(dir_, "127.0.0.1");
    tls_receiver r(cert);
    start({"--session-grace", "0s", "--webhooks-allow", r.url(), "--webhooks-ca-file",
           cert.cert.string()});
    auto stream = subscribe("/events?session=s1");
    ASSERT_EQ(actions(webhook_session(r.url("/left"))).status, 200);

    stream->socket().close();

    EXPECT_EQ(metric_reaching(hub(), "webhooks_sent_total", 1), 1) << hub().output();
    EXPECT_EQ(r.bodies(), std::vector<std::string>{R"({"session":"s1","reason":"client_closed"})"});
    EXPECT_EQ(metric_reaching(hub(), "webhooks_failed_total", 0), 0);
}

// Without the CA file the self-signed certificate chains to nothing the system trusts; a
// certificate for another address fails the host check. Either way the receiver never
// gets the body, the call is given up at once (no retry can fix a certificate), counted
// and logged.
TEST_F(WebhookTlsTest, AnUnverifiedReceiverIsNeverSentTheBody) {
    const auto cert = make_certificate(dir_, "127.0.0.1");
    const auto elsewhere = make_certificate(dir_, "127.0.0.2");
    tls_receiver r(cert);

    for (const auto& ca : {std::string(), elsewhere.cert.string()}) {
        std::vector<std::string> args{"--session-grace", "0s", "--webhooks-allow", r.url()};
        if (!ca.empty()) {
            // Trusting the other certificate: neither chain nor name matches this receiver.
            args.insert(args.end(), {"--webhooks-ca-file", ca});
        }
        server_process hub(args);
        sse_stream stream(hub, "/events?session=s1");
        ASSERT_TRUE(stream.read_head(after(5s)));
        ASSERT_EQ(http_request(hub, "POST", "/api/v1/actions",
                               json::serialize(webhook_session(r.url("/left"))))
                      .status,
                  200);
        stream.socket().close();

        EXPECT_EQ(metric_reaching(hub, "webhooks_failed_total", 1), 1) << hub.output();
        EXPECT_EQ(metric_reaching(hub, "webhooks_retries_total", 0), 0);
        EXPECT_NE(hub.output().find("TLS handshake failed"), std::string::npos) << hub.output();
        EXPECT_TRUE(hub.stop().clean()) << hub.output();
    }
    EXPECT_TRUE(r.bodies().empty());
}

// A CA file that cannot be read stops start-up with status 2 and names the key.
TEST(WebhookTlsConfigTest, AnUnreadableCaFileStopsStartUp) {
    const auto out = run_command(ssehub_binary() +
                                 " serve --listen 127.0.0.1:0 --webhooks-ca-file /nonexistent.pem");
    EXPECT_EQ(out.code, 2) << out.output;
    EXPECT_NE(out.output.find("webhooks.ca_file"), std::string::npos) << out.output;
}

} // namespace
} // namespace ssehub::test
