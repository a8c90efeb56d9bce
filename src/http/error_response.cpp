// SPDX-License-Identifier: Apache-2.0
#include "http/error_response.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace ssehub::http {

namespace beast_http = boost::beast::http;

beast_http::status status_of(errc code) noexcept {
    switch (code) {
    case errc::bad_request:
        return beast_http::status::bad_request;
    case errc::not_found:
        return beast_http::status::not_found;
    case errc::method_not_allowed:
        return beast_http::status::method_not_allowed;
    case errc::payload_too_large:
        return beast_http::status::payload_too_large;
    case errc::headers_too_large:
        return beast_http::status::request_header_fields_too_large;
    case errc::limit_exceeded:
        return beast_http::status::too_many_requests;
    case errc::unauthorized:
        return beast_http::status::unauthorized;
    case errc::forbidden:
        return beast_http::status::forbidden;
    case errc::unavailable:
        return beast_http::status::service_unavailable;
    case errc::internal:
        return beast_http::status::internal_server_error;
    case errc::timeout:
        return beast_http::status::request_timeout;
    }
    return beast_http::status::internal_server_error;
}

std::string error_body(const error& e) {
    boost::json::object inner;
    inner["code"] = to_string(e.code);
    inner["message"] = e.message;
    inner["path"] = e.path;
    boost::json::object outer;
    outer["error"] = std::move(inner);
    return boost::json::serialize(outer);
}

} // namespace ssehub::http
