// SPDX-License-Identifier: Apache-2.0
#include "http/routes.hpp"

#include "core/log.hpp"
#include "core/validate.hpp"
#include "http/error_response.hpp"
#include "http/server.hpp"

#include <algorithm>
#include <array>
#include <boost/beast/http/field.hpp>
#include <boost/beast/version.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/stream_parser.hpp>
#include <boost/url/parse.hpp>
#include <cctype>

namespace ssehub::http {

namespace beast_http = boost::beast::http;

namespace {

constexpr std::size_t max_json_depth = 64;

// First path segments that are not a `/{digipair}/{reasoning}` stream.
constexpr std::array<std::string_view, 6> reserved_roots = {"api",     "events", "metrics",
                                                            "healthz", "readyz", "favicon.ico"};

bool is_reserved(std::string_view root) {
    return std::find(reserved_roots.begin(), reserved_roots.end(), root) != reserved_roots.end();
}

} // namespace

response json_response(const request& req, beast_http::status status,
                       const boost::json::value& body) {
    response res{status, req.version()};
    res.set(beast_http::field::content_type, "application/json");
    res.set(beast_http::field::cache_control, "no-store");
    res.body() = boost::json::serialize(body);
    res.body() += '\n';
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    return res;
}

response error_response(const request& req, const error& e) {
    response res{status_of(e.code), req.version()};
    res.set(beast_http::field::content_type, "application/json");
    res.set(beast_http::field::cache_control, "no-store");
    res.body() = error_body(e);
    res.body() += '\n';
    if (e.code == errc::unauthorized) {
        res.set(beast_http::field::www_authenticate, "Bearer");
    }
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    return res;
}

result<boost::json::value> parse_json_body(std::string_view body, std::string path) {
    boost::json::parse_options opts;
    opts.max_depth = max_json_depth;
    boost::json::stream_parser parser({}, opts);
    boost::system::error_code ec;
    const std::size_t used = parser.write(body.data(), body.size(), ec);
    if (!ec) {
        parser.finish(ec);
    }
    if (ec) {
        // Say where, and say it plainly when the bytes are not text at all.
        const auto why = core::is_valid_utf8(body) ? ec.message() : "it is not valid UTF-8";
        return make_error(errc::bad_request,
                          "the body is not valid JSON at byte " + std::to_string(used) + ": " + why,
                          std::move(path));
    }
    return parser.release();
}

std::vector<std::string> path_segments(const boost::urls::url_view& url) {
    std::vector<std::string> out;
    for (auto seg : url.segments()) {
        out.push_back(seg);
    }
    return out;
}

namespace_id query_namespace(const boost::urls::url_view& url) {
    namespace_id ns;
    for (auto p : url.params()) {
        if (p.key == "digipair") {
            ns.digipair = p.value;
        } else if (p.key == "reasoning") {
            ns.reasoning = p.value;
        }
    }
    return ns;
}

result<std::string> cors_headers(const server& srv, const request& req) {
    const auto& allowed = srv.options().cors_allow_origins;
    auto origin = req.find(beast_http::field::origin);
    if (origin == req.end() || allowed.empty()) {
        return std::string{};
    }
    const std::string_view value = origin->value();
    if (std::find(allowed.begin(), allowed.end(), "*") != allowed.end()) {
        return std::string("Access-Control-Allow-Origin: *\r\n");
    }
    if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) {
        std::string lines = "Access-Control-Allow-Origin: " + std::string(value) + "\r\n";
        if (srv.options().cors_allow_credentials) {
            lines += "Access-Control-Allow-Credentials: true\r\n";
        }
        return lines + "Vary: Origin\r\n";
    }
    return make_error(errc::forbidden,
                      "origin '" + std::string(value) + "' is not in cors.allow_origins",
                      "headers.origin");
}

response preflight_response(const server& srv, const request& req) {
    auto cors = cors_headers(srv, req);
    if (!cors) {
        return error_response(req, cors.error());
    }
    response res{beast_http::status::no_content, req.version()};
    res.keep_alive(req.keep_alive());
    if (!cors->empty()) {
        auto origin = req[beast_http::field::origin];
        const auto& allowed = srv.options().cors_allow_origins;
        const bool any = std::find(allowed.begin(), allowed.end(), "*") != allowed.end();
        res.set(beast_http::field::access_control_allow_origin, any ? "*" : origin);
        if (!any) {
            res.set(beast_http::field::vary, "Origin");
            if (srv.options().cors_allow_credentials) {
                res.set(beast_http::field::access_control_allow_credentials, "true");
            }
        }
        res.set(beast_http::field::access_control_allow_methods, "GET, POST, PUT, DELETE, OPTIONS");
        res.set(beast_http::field::access_control_allow_headers,
                "authorization, content-type, last-event-id");
        res.set(beast_http::field::access_control_max_age, "600");
    }
    res.prepare_payload();
    return res;
}

routed route(server& srv, request& req, const std::string& remote) {
    auto parsed = boost::urls::parse_origin_form(req.target());
    if (!parsed) {
        return error_response(req, make_error(errc::bad_request,
                                              "the request target is not a valid path and query",
                                              "target"));
    }
    const auto url = *parsed;
    const auto segments = path_segments(url);
    (void)remote;

    if (req.method() == beast_http::verb::options) {
        return preflight_response(srv, req);
    }

    const bool events = segments.size() == 1 && segments[0] == "events";
    const bool namespaced = segments.size() == 2 && !is_reserved(segments[0]) &&
                            !segments[0].empty() && !segments[1].empty();
    if (events || namespaced) {
        return stream_route(srv, req, url, segments);
    }
    auto res = control_route(srv, req, url, segments);
    if (auto cors = cors_headers(srv, req); cors && !cors->empty()) {
        const auto& allowed = srv.options().cors_allow_origins;
        const bool any = std::find(allowed.begin(), allowed.end(), "*") != allowed.end();
        res.set(beast_http::field::access_control_allow_origin,
                any ? std::string_view("*") : std::string_view(req[beast_http::field::origin]));
        if (!any) {
            res.set(beast_http::field::vary, "Origin");
            if (srv.options().cors_allow_credentials) {
                res.set(beast_http::field::access_control_allow_credentials, "true");
            }
        }
    }
    return res;
}

routed stream_route(server& srv, request& req, const boost::urls::url_view& url,
                    const std::vector<std::string>& segments) {
    if (req.method() != beast_http::verb::get && req.method() != beast_http::verb::post) {
        auto res = error_response(
            req, make_error(errc::method_not_allowed, "a stream opens with GET or POST", "method"));
        res.set(beast_http::field::allow, "GET, POST, OPTIONS");
        return res;
    }

    auto cors = cors_headers(srv, req);
    if (!cors) {
        return error_response(req, cors.error());
    }

    stream_request out;
    out.chunked = req.version() >= 11;
    out.extra_headers = std::move(*cors);
    auto& sub = out.subscription;
    if (segments.size() == 2) {
        sub.ns.digipair = segments[0];
        sub.ns.reasoning = segments[1];
    }

    // Query parameters; `lastEventId` may repeat (F25): the last one is the newest.
    std::optional<std::string> query_cursor;
    for (auto p : url.params()) {
        if (p.key == "session") {
            sub.session = std::string(p.value);
        } else if (p.key == "channel") {
            sub.channels.emplace_back(p.value);
        } else if (p.key == "lastEventId") {
            query_cursor = std::string(p.value);
        } else if (segments.size() == 1 && p.key == "digipair") {
            sub.ns.digipair = p.value;
        } else if (segments.size() == 1 && p.key == "reasoning") {
            sub.ns.reasoning = p.value;
        }
    }

    // A subscriber's token decides its tenant and what it may follow (F29): checked before
    // the hub sees the request, so a refusal changes nothing and replaces no connection.
    auto grant = srv.auth().authenticate_subscriber(req, url);
    if (!grant) {
        return error_response(req, grant.error());
    }
    if (*grant) {
        auto& g = **grant;
        sub.ns.tenant = g.tenant;
        // A generated id is no id the token names: only a token allowing any takes one.
        if (!sub.session && !g.allows_any_session()) {
            return error_response(
                req, make_error(errc::forbidden,
                                "the token allows named sessions only; give one with ?session=",
                                "session"));
        }
        if (sub.session && !g.allows_session(*sub.session)) {
            return error_response(
                req,
                make_error(errc::forbidden,
                           "the token does not allow session '" + *sub.session + "'", "session"));
        }
        for (const auto& c : sub.channels) {
            if (!g.allows_channel(c)) {
                return error_response(
                    req, make_error(errc::forbidden, "the token does not allow channel '" + c + "'",
                                    "channel"));
            }
        }
        sub.claims = std::move(g.claims);
    }

    // The header wins over the query; an empty header asks for a fresh stream.
    if (auto h = req.find("Last-Event-ID"); h != req.end()) {
        sub.last_event_id = std::string(h->value());
    } else {
        sub.last_event_id = std::move(query_cursor);
    }

    if (req.method() == beast_http::verb::post && !req.body().empty()) {
        auto body = parse_json_body(req.body(), "body");
        if (!body) {
            return error_response(req, body.error());
        }
        out.body = std::move(*body);
    }

    // A configured route's connect actions see the request: its query, headers and body.
    for (const auto& r : srv.options().routes) {
        if (r.path != url.path()) {
            continue;
        }
        boost::json::object query;
        for (auto p : url.params()) {
            query[p.key] = p.value;
        }
        boost::json::object headers;
        for (const auto& field : req) {
            std::string name(field.name_string());
            for (auto& c : name) {
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            }
            headers[name] = field.value();
        }
        out.connect = &r.connect;
        out.request = boost::json::object{
            {"query", std::move(query)}, {"headers", std::move(headers)}, {"body", out.body}};
        break;
    }
    return out;
}

} // namespace ssehub::http
