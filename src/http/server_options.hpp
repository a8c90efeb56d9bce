// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "http/auth_options.hpp"

#include <boost/json/value.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ssehub::http {

/// A `[[routes]]` table of the configuration: pins run when a stream opens on `path`.
struct route_actions {
    std::string path;           ///< `/events` or `/{digipair}/{reasoning}`, as requested
    boost::json::value connect; ///< an array of pins, checked at start-up
};

/// The listener's and the streams' tunables; names follow DESIGN.md section 9.
struct server_options {
    std::string address = "127.0.0.1"; ///< server.listen, host part
    std::uint16_t port = 8080;         ///< server.listen, port part (0: any free port)
    std::size_t threads = 0;           ///< server.threads; 0 means one per core
    std::chrono::milliseconds shutdown_deadline{10'000};
    std::chrono::milliseconds request_timeout{30'000}; ///< headers and body of one request
    std::chrono::milliseconds retry{2'000};            ///< stream.retry
    std::chrono::milliseconds keepalive{10'000};       ///< stream.keepalive
    std::size_t outbound_limit = 4u << 20;             ///< stream.outbound_limit
    std::chrono::milliseconds write_timeout{30'000};   ///< stream.write_timeout
    std::size_t body_limit = 1u << 20;                 ///< limits.body
    std::size_t connections = 100'000;                 ///< limits.connections
    std::size_t connections_per_address = 0;           ///< limits.connections_per_address
    std::vector<std::string> cors_allow_origins;       ///< cors.allow_origins

    // Trust (DESIGN.md section 6).
    std::size_t header_limit = 16u << 10;           ///< limits.headers: request line and headers
    std::chrono::milliseconds head_timeout{10'000}; ///< limits.head_timeout: from its first byte
    std::size_t publish_rate = 0;        ///< limits.publish_rate: requests/s per key; 0 off
    bool cors_allow_credentials = false; ///< cors.allow_credentials
    auth_options auth;                   ///< auth.*
    std::string tls_listen;              ///< tls.listen, HOST:PORT; empty: no HTTPS
    std::string tls_cert;                ///< tls.cert: PEM certificate chain file
    std::string tls_key;                 ///< tls.key: PEM private key file
    std::vector<route_actions> routes;   ///< `[[routes]]`
};

} // namespace ssehub::http
