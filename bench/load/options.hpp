// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace ssehub::bench {

/// An `http://HOST:PORT/PATH` target; HOST is an IPv4 literal or `localhost`.
struct http_url {
    std::string host;          ///< as written, for the Host header
    std::uint32_t address = 0; ///< IPv4, host byte order
    std::uint16_t port = 80;
    std::string target; ///< path and query, starting with '/'
};

/// Parses `http://HOST[:PORT][/PATH]`; nullopt with `error` set when it is not one.
std::optional<http_url> parse_url(std::string_view text, std::string& error);

/// Replaces each `{name}` of `text` by `value`.
std::string substitute(std::string_view text, std::string_view name, std::string_view value);

/// Everything the command line says. See usage() for the meaning of each.
struct load_options {
    // Subscribers.
    std::string url_template;
    std::size_t connections = 0;
    std::size_t concurrency = 0; ///< connects in flight at once; 0 = all at once
    std::vector<std::string> headers;
    std::size_t sources = 0; ///< source addresses; 0 = one per 1,000 connections
    std::chrono::milliseconds connect_timeout{30'000};
    std::chrono::milliseconds settle{500};
    std::chrono::milliseconds hold{0};

    // Publishers.
    std::string publish_url;
    std::string publish_body = R"({"message":{"ts":{ts},"seq":{seq}}})";
    std::string publish_method = "POST";
    std::string content_type = "application/json";
    std::vector<std::string> publish_headers;
    std::size_t publishers = 1;
    double rate = 0; ///< messages per second in total; 0 = flat out
    std::size_t messages = 0;
    std::chrono::milliseconds duration{0};
    std::size_t burst = 1; ///< messages sent back to back at each tick of the rate
    std::chrono::milliseconds drain{10'000};

    // Replay.
    std::size_t replay = 0;

    // The server, for memory and CPU.
    std::vector<pid_t> server_pids;

    bool quiet = false;
    bool check = false; ///< exit 1 unless every stream, publish and event made it
};

/// Parses argv; nullopt after printing why (or the usage, for --help) to stderr.
std::optional<load_options> parse_options(int argc, char** argv, int& exit_code);

} // namespace ssehub::bench
