// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstddef>
#include <http/server_options.hpp>
#include <ssehub/error.hpp>
#include <ssehub/hub.hpp>
#include <string>
#include <vector>

namespace ssehub::app {

/// Everything `ssehub serve` needs, filled from one option table (config.cpp) by the TOML
/// file, then the environment (SSEHUB_*), then the command line; later sources win.
struct config {
    http::server_options server;
    hub_options hub;
    std::string log_level = "info";  ///< log.level: trace, debug, info, warn, error
    std::string log_format = "text"; ///< log.format: text or json
    std::string broker_url = "memory";
    std::vector<std::string> webhooks_allow;
    std::chrono::milliseconds webhooks_timeout{5'000};
    std::size_t webhooks_retries = 3;
    std::string webhooks_secret;
    std::chrono::milliseconds webhooks_backoff{200}; ///< before retry n: backoff * 2^(n-1)
    std::size_t webhooks_queue = 10'000;             ///< calls waiting or under way, at most
    std::size_t webhooks_concurrency = 32;           ///< calls under way at once
    std::string webhooks_ca_file; ///< PEM CAs for https:// receivers; empty: the system's
    std::string actions_forward_url;
};

} // namespace ssehub::app
