// SPDX-License-Identifier: Apache-2.0
#include "actions/engine.hpp"
#include "http/dashboard.hpp"
#include "http/routes.hpp"
#include "http/server.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

namespace ssehub::http {

namespace beast_http = boost::beast::http;
namespace json = boost::json;
using beast_http::verb;

namespace {

json::value to_json(const std::optional<std::string>& s) {
    return s ? json::value(*s) : json::value(nullptr);
}

json::object publish_json(const publish_result& r, bool with_sessions) {
    json::object o;
    o["delivered"] = r.delivered;
    o["eventId"] = to_json(r.event_id);
    if (with_sessions) {
        o["sessions"] = r.sessions;
    }
    if (!r.warning.empty()) {
        o["warning"] = r.warning;
    }
    return o;
}

json::object channel_json(const channel_info& c) {
    json::object o;
    o["id"] = c.id;
    json::array members;
    for (const auto& s : c.sessions) {
        members.emplace_back(s);
    }
    o["sessions"] = std::move(members);
    o["connected"] = c.connected;
    return o;
}

response not_allowed(const request& req, std::string_view allow) {
    auto res = error_response(req, make_error(errc::method_not_allowed,
                                              std::string(req.method_string()) +
                                                  " is not allowed here; use " + std::string(allow),
                                              "method"));
    res.set(beast_http::field::allow, allow);
    return res;
}

response not_found(const request& req) {
    return error_response(
        req, make_error(errc::not_found, "no route " + std::string(req.target()), "target"));
}

// The body of a REST publish: `{"message": M, "event"?: E}`.
struct publish_body {
    json::value message;
    std::string event = "message";
};

result<publish_body> read_publish_body(const request& req) {
    auto doc = parse_json_body(req.body(), "body");
    if (!doc) {
        return doc.error();
    }
    if (!doc->is_object()) {
        return make_error(errc::bad_request, "the body must be a JSON object", "body");
    }
    publish_body out;
    bool has_message = false;
    for (auto& [key, value] : doc->as_object()) {
        if (key == "message") {
            out.message = std::move(value);
            has_message = true;
        } else if (key == "event") {
            if (!value.is_string()) {
                return make_error(errc::bad_request, "event must be a string", "event");
            }
            // An empty name means the default, as in the skill.
            if (!value.as_string().empty()) {
                out.event = value.as_string();
            }
        } else {
            return make_error(errc::bad_request,
                              "unknown property '" + std::string(key) +
                                  "'; a message takes 'message' and 'event'",
                              std::string(key));
        }
    }
    if (!has_message) {
        return make_error(errc::bad_request, "message is required", "message");
    }
    return out;
}

std::string metrics_text(server& srv) {
    const auto& h = srv.get_hub().stats();
    const auto& s = srv.stats();
    std::string out;
    auto metric = [&out](std::string_view name, std::string_view type, std::string_view help,
                         auto value) {
        out += "# HELP ssehub_";
        out += name;
        out += ' ';
        out += help;
        out += "\n# TYPE ssehub_";
        out += name;
        out += ' ';
        out += type;
        out += "\nssehub_";
        out += name;
        out += ' ';
        out += std::to_string(value);
        out += '\n';
    };
    auto load = [](const auto& a) {
        return a.load(std::memory_order_relaxed);
    };
    metric("connections", "gauge", "Open TCP connections of any kind.", load(s.open_connections));
    metric("streams", "gauge", "Open event streams.", load(h.connections));
    metric("sessions", "gauge", "Known sessions.", load(h.sessions));
    metric("channels", "gauge", "Known channels, default channels included.", load(h.channels));
    metric("events_published_total", "counter", "Events accepted.", load(h.events_published));
    metric("deliveries_total", "counter", "Events queued for a connected recipient.",
           load(h.deliveries));
    metric("sessions_ended_total", "counter", "Sessions that ended.", load(h.sessions_ended));
    metric("replacements_total", "counter", "Connections replaced by a reconnect.",
           load(h.replacements));
    metric("streams_opened_total", "counter", "Event streams opened.", load(s.streams_opened));
    metric("requests_total", "counter", "HTTP requests read.", load(s.requests));
    metric("request_errors_total", "counter", "Requests answered with an error.", load(s.errors));
    metric("refused_connections_total", "counter", "Connections refused at a limit.",
           load(s.refused_limit));
    metric("slow_consumer_disconnects_total", "counter",
           "Streams closed past their outbound limit.", load(s.slow_consumer_disconnects));
    metric("write_timeouts_total", "counter", "Streams closed after a write made no progress.",
           load(s.write_timeouts));
    const auto& a = srv.get_engine().stats();
    metric("action_runs_total", "counter", "Disconnect actions run.", load(a.runs));
    metric("action_failures_total", "counter", "Disconnect actions that failed.", load(a.failures));
    metric("action_dropped_total", "counter", "Disconnect runs dropped at the queue limit.",
           load(a.dropped));
    metric("actions_total", "counter", "Disconnect action pins run, failed or not.",
           load(a.actions));
    const auto& w = srv.get_engine().webhooks();
    metric("webhooks_sent_total", "counter", "Webhook calls answered with 2xx.", load(w.sent));
    metric("webhooks_failed_total", "counter", "Webhook calls given up after their last attempt.",
           load(w.failed));
    metric("webhooks_retries_total", "counter", "Webhook attempts after a failed one.",
           load(w.retries));
    metric("webhooks_dropped_total", "counter", "Webhook calls dropped at the queue limit.",
           load(w.dropped));
    metric("webhooks_queued", "gauge", "Webhook calls waiting or under way.", load(w.queued));
    return out;
}

response sessions_route(server& srv, request& req, const namespace_id& ns,
                        const std::vector<std::string>& seg) {
    auto& h = srv.get_hub();

    // /api/v1/sessions
    if (seg.size() == 3) {
        if (req.method() != verb::get) {
            return not_allowed(req, "GET");
        }
        json::array list;
        for (const auto& s : h.sessions(ns)) {
            json::object o;
            o["id"] = s.id;
            o["connected"] = s.connected;
            json::array channels;
            for (const auto& c : s.channels) {
                channels.emplace_back(c);
            }
            o["channels"] = std::move(channels);
            list.emplace_back(std::move(o));
        }
        return json_response(req, beast_http::status::ok, json::object{{"sessions", list}});
    }

    const auto& id = seg[3];
    // /api/v1/sessions/{id}
    if (seg.size() == 4) {
        if (req.method() != verb::delete_) {
            return not_allowed(req, "DELETE");
        }
        if (auto r = h.kick(ns, id); !r) {
            return error_response(req, r.error());
        }
        return json_response(req, beast_http::status::ok,
                             json::object{{"id", id}, {"disconnected", true}});
    }

    // /api/v1/sessions/{id}/messages
    if (seg.size() == 5 && seg[4] == "messages") {
        if (req.method() != verb::post) {
            return not_allowed(req, "POST");
        }
        auto body = read_publish_body(req);
        if (!body) {
            return error_response(req, body.error());
        }
        auto r = h.push(ns, id, body->message, body->event);
        if (!r) {
            return error_response(req, r.error());
        }
        if (!r->event_id) {
            return error_response(req, make_error(errc::not_found, r->warning, "id"));
        }
        return json_response(req, beast_http::status::ok, publish_json(*r, false));
    }
    return not_found(req);
}

response channels_route(server& srv, request& req, const namespace_id& ns,
                        const std::vector<std::string>& seg) {
    auto& h = srv.get_hub();

    // /api/v1/channels
    if (seg.size() == 3) {
        if (req.method() != verb::get) {
            return not_allowed(req, "GET");
        }
        json::array list;
        for (const auto& c : h.channels(ns)) {
            list.emplace_back(channel_json(c));
        }
        return json_response(req, beast_http::status::ok, json::object{{"channels", list}});
    }

    const auto& id = seg[3];
    // /api/v1/channels/{id}
    if (seg.size() == 4) {
        if (req.method() != verb::get) {
            return not_allowed(req, "GET");
        }
        auto c = h.channel(ns, id);
        if (!c) {
            return error_response(req, c.error());
        }
        return json_response(req, beast_http::status::ok, channel_json(*c));
    }

    // /api/v1/channels/{id}/messages
    if (seg.size() == 5 && seg[4] == "messages") {
        if (req.method() != verb::post) {
            return not_allowed(req, "POST");
        }
        auto body = read_publish_body(req);
        if (!body) {
            return error_response(req, body.error());
        }
        auto r = h.broadcast(ns, id, body->message, body->event);
        if (!r) {
            return error_response(req, r.error());
        }
        if (!r->event_id) {
            return error_response(req, make_error(errc::not_found, r->warning, "id"));
        }
        return json_response(req, beast_http::status::ok, publish_json(*r, true));
    }

    // /api/v1/channels/{id}/sessions/{sid}
    if (seg.size() == 6 && seg[4] == "sessions") {
        result<channel_result> r = make_error(errc::internal, "unreachable");
        if (req.method() == verb::put) {
            r = h.join(ns, id, seg[5]);
        } else if (req.method() == verb::delete_) {
            r = h.leave(ns, id, seg[5]);
        } else {
            return not_allowed(req, "PUT, DELETE");
        }
        if (!r) {
            return error_response(req, r.error());
        }
        return json_response(req, beast_http::status::ok,
                             json::object{{"id", r->id}, {"sessions", r->sessions}});
    }
    return not_found(req);
}

} // namespace

response control_route(server& srv, request& req, const boost::urls::url_view& url,
                       const std::vector<std::string>& seg) {
    if (seg.size() == 1 && seg[0] == "healthz") {
        return json_response(req, beast_http::status::ok, json::object{{"status", "ok"}});
    }
    if (seg.size() == 1 && seg[0] == "readyz") {
        if (srv.draining()) {
            return json_response(req, beast_http::status::service_unavailable,
                                 json::object{{"status", "draining"}});
        }
        return json_response(req, beast_http::status::ok, json::object{{"status", "ready"}});
    }
    if (seg.size() == 1 && seg[0] == "metrics") {
        response res{beast_http::status::ok, req.version()};
        res.set(beast_http::field::content_type, "text/plain; version=0.0.4");
        res.body() = metrics_text(srv);
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        return res;
    }
    if (seg.empty() || (seg.size() == 1 && seg[0].empty())) {
        if (req.method() != verb::get) {
            return not_allowed(req, "GET");
        }
        response res{beast_http::status::ok, req.version()};
        res.set(beast_http::field::content_type, "text/html; charset=utf-8");
        res.body() = std::string(dashboard_html);
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        return res;
    }

    if (seg.size() < 3 || seg[0] != "api" || seg[1] != "v1") {
        return not_found(req);
    }
    if (srv.draining() && req.method() != verb::get) {
        return error_response(req, make_error(errc::unavailable, "the hub is shutting down"));
    }
    if (auto cors = cors_headers(srv, req); !cors) {
        return error_response(req, cors.error());
    }

    const auto ns = query_namespace(url);
    if (seg[2] == "actions" && seg.size() == 3) {
        if (req.method() != verb::post) {
            return not_allowed(req, "POST");
        }
        auto doc = parse_json_body(req.body(), "body");
        if (!doc) {
            return error_response(req, doc.error());
        }
        auto r = srv.get_engine().execute(*doc, ns);
        if (!r) {
            return error_response(req, r.error());
        }
        return json_response(req, beast_http::status::ok, *r);
    }
    if (seg[2] == "sessions") {
        return sessions_route(srv, req, ns, seg);
    }
    if (seg[2] == "channels") {
        return channels_route(srv, req, ns, seg);
    }
    return not_found(req);
}

} // namespace ssehub::http
