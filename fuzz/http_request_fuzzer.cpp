// SPDX-License-Identifier: Apache-2.0
//
// Bytes from the network through the request parser and, when they make a request, through
// routing: authentication, the control API, the action engine and the hub. A configured key
// and JWT secrets put every check of credentials on the path.

#include "actions/engine.hpp"
#include "http/routes.hpp"
#include "http/server.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace {

namespace beast_http = boost::beast::http;

// The key of the corpus entries: `Authorization: Bearer fuzz-key`.
constexpr const char* fuzz_key_hash =
    "sha256:231e9b2f757db8d48ecd0711b60135e1cc57a3a807be9dc12638856f17a7872c";

struct fixture {
    boost::asio::io_context ioc{1};
    std::unique_ptr<ssehub::hub> hub;
    std::unique_ptr<ssehub::actions::engine> engine;
    std::unique_ptr<ssehub::http::server> server;

    fixture() {
        ssehub::hub_options h;
        h.sessions_per_namespace = 256;
        h.session_history_events = 8;
        h.channel_history_events = 8;
        hub = std::make_unique<ssehub::hub>(h, std::vector<boost::asio::io_context*>{&ioc});
        engine = std::make_unique<ssehub::actions::engine>(*hub);

        ssehub::http::server_options s;
        s.body_limit = 64 * 1024;
        s.cors_allow_origins = {"http://good.test"};
        s.auth.publisher_keys = {std::string(fuzz_key_hash) + " rights=push+broadcast+membership"};
        s.auth.publisher_jwt.alg = "HS256";
        s.auth.publisher_jwt.secret = "fuzz-publisher-secret";
        s.auth.publisher_jwt.audience = "ssehub";
        s.auth.subscriber_mode = "jwt";
        s.auth.subscriber_jwt.alg = "HS256";
        s.auth.subscriber_jwt.secret = "fuzz-secret";
        server = std::make_unique<ssehub::http::server>(
            s, *hub, *engine, std::vector<boost::asio::io_context*>{&ioc});
        if (auto ok = server->auth().load(); !ok) {
            __builtin_trap();
        }
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static fixture f;

    beast_http::request_parser<beast_http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(64 * 1024);
    parser.eager(true);
    boost::system::error_code ec;
    auto rest = boost::asio::const_buffer(data, size);
    while (rest.size() > 0 && !parser.is_done()) {
        const auto used = parser.put(rest, ec);
        if (ec || used == 0) {
            break;
        }
        rest += used;
    }
    if (ec || !parser.is_done()) {
        return 0;
    }

    auto req = parser.release();
    (void)ssehub::http::route(*f.server, req, "127.0.0.1:1");

    // Run what the hub posted to its shard, so nothing piles up between inputs.
    f.ioc.poll();
    f.ioc.restart();
    return 0;
}
