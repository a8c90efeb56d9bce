// SPDX-License-Identifier: Apache-2.0
#include "broker/broker_url.hpp"

#include <boost/url/parse.hpp>
#include <charconv>

namespace ssehub::broker {

result<broker_url> parse_broker_url(std::string_view url) {
    if (url == "memory") {
        return broker_url{};
    }

    auto parsed = boost::urls::parse_uri(url);
    if (!parsed || parsed->scheme() != "redis") {
        return make_error(errc::bad_request,
                          "broker.url must be 'memory' or redis://HOST:PORT/DB, not '" +
                              std::string(url) + "'",
                          "broker.url");
    }

    broker_url out;
    out.type = broker_url::kind::redis;
    out.host = parsed->host();
    if (out.host.empty()) {
        return make_error(errc::bad_request, "broker.url names no Redis host", "broker.url");
    }
    if (parsed->has_port()) {
        const auto port = parsed->port_number();
        if (port == 0) {
            return make_error(errc::bad_request, "broker.url has an invalid port", "broker.url");
        }
        out.port = port;
    }

    std::string_view path = parsed->encoded_path();
    if (!path.empty() && path != "/") {
        path.remove_prefix(1);
        const auto [end, ec] =
            std::from_chars(path.data(), path.data() + path.size(), out.database);
        if (ec != std::errc{} || end != path.data() + path.size()) {
            return make_error(errc::bad_request, "broker.url database must be a number",
                              "broker.url");
        }
    }
    return out;
}

} // namespace ssehub::broker
