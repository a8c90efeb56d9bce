// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <ssehub/error.hpp>
#include <string>
#include <string_view>

namespace ssehub::broker {

/// Where events travel between nodes: `memory` (this process only, the default) or
/// `redis://HOST:PORT/DB`.
struct broker_url {
    enum class kind { memory, redis };

    kind type = kind::memory;
    std::string host;
    std::uint16_t port = 6379;
    unsigned database = 0;
};

/// Parses `broker.url`. The error names the key and says what is wrong.
result<broker_url> parse_broker_url(std::string_view url);

} // namespace ssehub::broker
