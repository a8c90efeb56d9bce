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
    std::string actions_forward_url;
};

} // namespace ssehub::app
