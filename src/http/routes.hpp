// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "http/http_session.hpp"

#include <boost/json/value.hpp>
#include <boost/url/url_view.hpp>
#include <ssehub/error.hpp>
#include <ssehub/hub.hpp>
#include <string>
#include <variant>
#include <vector>

namespace ssehub::http {

class server;

/// A request that opens an event stream, validated, with what the response head adds.
struct stream_request {
    subscribe_request subscription;
    bool chunked = true;       ///< HTTP/1.1; an HTTP/1.0 client gets a close-delimited body
    std::string extra_headers; ///< CORS, each line ending in CRLF
    boost::json::value body;   ///< a POST subscription's JSON body, null for GET

    /// The connect pins of a configured route, or null; `request` is their
    /// `{query, headers, body}` context.
    const boost::json::value* connect = nullptr;
    boost::json::value request;
};

using routed = std::variant<response, stream_request>;

/// What a request asks for: an answer now, or a stream. Never throws; every refusal is a
/// response carrying the JSON error of DESIGN.md section 3.
routed route(server& srv, request& req, const std::string& remote);

/// A JSON response with the status of `e` and its error body.
response error_response(const request& req, const error& e);

/// A JSON response with `status` and `body`.
response json_response(const request& req, boost::beast::http::status status,
                       const boost::json::value& body);

/// Parses a request body as JSON: bounded nesting, strict UTF-8. `path` names the body in
/// the error (`body`).
result<boost::json::value> parse_json_body(std::string_view body, std::string path);

/// The decoded path segments of `url`.
std::vector<std::string> path_segments(const boost::urls::url_view& url);

/// The namespace named by `?digipair=&reasoning=` (last occurrence wins).
namespace_id query_namespace(const boost::urls::url_view& url);

/// The CORS lines for `req` (empty when it has no Origin or none is configured), or a
/// 403 error when it names an origin outside the allow-list.
result<std::string> cors_headers(const server& srv, const request& req);

/// The answer to an OPTIONS preflight.
response preflight_response(const server& srv, const request& req);

/// The control API, health and metrics routes.
response control_route(server& srv, request& req, const boost::urls::url_view& url,
                       const std::vector<std::string>& segments);

/// `GET|POST /events` and `/{digipair}/{reasoning}`.
routed stream_route(server& srv, request& req, const boost::urls::url_view& url,
                    const std::vector<std::string>& segments);

} // namespace ssehub::http
