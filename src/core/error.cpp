// SPDX-License-Identifier: Apache-2.0
#include <ssehub/error.hpp>
#include <ssehub/types.hpp>

namespace ssehub {

std::string_view to_string(errc code) {
    switch (code) {
    case errc::bad_request:
        return "bad_request";
    case errc::not_found:
        return "not_found";
    case errc::method_not_allowed:
        return "method_not_allowed";
    case errc::payload_too_large:
        return "payload_too_large";
    case errc::headers_too_large:
        return "headers_too_large";
    case errc::limit_exceeded:
        return "limit_exceeded";
    case errc::unauthorized:
        return "unauthorized";
    case errc::forbidden:
        return "forbidden";
    case errc::unavailable:
        return "unavailable";
    case errc::internal:
        return "internal";
    case errc::timeout:
        return "timeout";
    }
    return "internal";
}

void throw_exception_from_error(const error& e, const boost::source_location&) {
    throw error_exception(e);
}

std::string to_string(const namespace_id& ns) {
    if (ns.digipair.empty() && ns.reasoning.empty() && ns.tenant.empty()) {
        return "default";
    }
    std::string out;
    if (!ns.tenant.empty()) {
        out += ns.tenant;
        out += ':';
    }
    out += ns.digipair;
    out += '/';
    out += ns.reasoning;
    return out;
}

std::size_t namespace_hash::operator()(const namespace_id& ns) const noexcept {
    const std::hash<std::string> h;
    std::size_t seed = h(ns.tenant);
    seed ^= h(ns.digipair) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
    seed ^= h(ns.reasoning) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
    return seed;
}

std::string_view to_string(end_reason r) {
    switch (r) {
    case end_reason::client_closed:
        return "client_closed";
    case end_reason::kicked:
        return "kicked";
    case end_reason::replaced:
        return "replaced";
    case end_reason::slow_consumer:
        return "slow_consumer";
    case end_reason::dead_peer:
        return "dead_peer";
    case end_reason::shutdown:
        return "shutdown";
    }
    return "client_closed";
}

} // namespace ssehub
