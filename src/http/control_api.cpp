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

// The right a call needs, checked against the caller's rights and the namespace it acts in.
enum class right { push, broadcast, membership, introspection, none };

std::string_view right_name(right r) {
    switch (r) {
    case right::push:
        return "push";
    case right::broadcast:
        return "broadcast";
    case right::membership:
        return "membership";
    case right::introspection:
        return "introspection";
    case right::none:
        break;
    }
    return "none";
}

result<void> require(const publisher& who, right r, const namespace_id& ns, std::string path = {}) {
    const auto& rights = who.rights;
    const bool granted = r == right::none || (r == right::push && rights.push) ||
                         (r == right::broadcast && rights.broadcast) ||
                         (r == right::membership && rights.membership) ||
                         (r == right::introspection && rights.introspection);
    if (!granted) {
        return make_error(errc::forbidden,
                          "this key or token lacks the " + std::string(right_name(r)) + " right",
                          std::move(path));
    }
    if (!rights.allows(ns)) {
        return make_error(errc::forbidden,
                          "this key or token may not act in namespace " + ns.digipair + "/" +
                              ns.reasoning,
                          path.empty() ? "namespace" : std::move(path));
    }
    return {};
}

right right_of_element(std::string_view element) {
    if (element == "push") {
        return right::push;
    }
    if (element == "broadcast" || element == "notify") {
        return right::broadcast;
    }
    // Everything else acts beyond one message: registering, closing, and the actions that
    // reach outside the hub (`webhook`, `log`, pins forwarded to another engine). Without
    // this, a key made for reading the listings could make the hub post to its webhooks.
    return right::membership;
}

// Walks a pin document, nested `disconnected` lists included, and checks that the caller
// may run each pin in the namespace it names. Malformed pins pass: the engine refuses them
// with their own path.
result<void> check_pins(const publisher& who, const json::value& v, const namespace_id& ns,
                        const std::string& path) {
    if (const auto* list = v.if_array()) {
        for (std::size_t i = 0; i < list->size(); ++i) {
            auto ok = check_pins(who, (*list)[i], ns, path + "[" + std::to_string(i) + "]");
            if (!ok) {
                return ok;
            }
        }
        return {};
    }
    const auto* pin = v.if_object();
    if (pin == nullptr) {
        return {};
    }
    const auto prefix = path.empty() ? std::string() : path + ".";
    std::string_view element;
    std::string element_path = prefix + "element";
    if (const auto* e = pin->if_contains("element"); e != nullptr && e->is_string()) {
        element = e->as_string();
    } else if (const auto* t = pin->if_contains("type"); t != nullptr && t->is_string()) {
        element = t->as_string();
        element_path = prefix + "type";
    }

    namespace_id pin_ns = ns;
    const auto* props = pin->if_contains("properties");
    const json::object* p = props != nullptr ? props->if_object() : nullptr;
    if (p != nullptr) {
        if (const auto* d = p->if_contains("digipair"); d != nullptr && d->is_string()) {
            pin_ns.digipair = d->as_string();
        }
        if (const auto* r = p->if_contains("reasoning"); r != nullptr && r->is_string()) {
            pin_ns.reasoning = r->as_string();
        }
    }
    if (auto ok = require(who, right_of_element(element), pin_ns, element_path); !ok) {
        return ok;
    }
    if (p != nullptr) {
        if (const auto* d = p->if_contains("disconnected")) {
            return check_pins(who, *d, pin_ns, prefix + "properties.disconnected");
        }
    }
    return {};
}

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
    metric("gaps_total", "counter", "Resumes told with a gap event that events were lost.",
           load(h.gaps));
    metric("history_bytes", "gauge", "History held, as history.max_bytes counts it.",
           load(h.history_bytes));
    metric("history_evictions_total", "counter", "Events dropped to keep history.max_bytes.",
           load(h.history_evictions));
    metric("streams_opened_total", "counter", "Event streams opened.", load(s.streams_opened));
    metric("requests_total", "counter", "HTTP requests read.", load(s.requests));
    metric("request_errors_total", "counter", "Requests answered with an error.", load(s.errors));
    metric("refused_connections_total", "counter", "Connections refused at a limit.",
           load(s.refused_limit));
    metric("slow_consumer_disconnects_total", "counter",
           "Streams closed past their outbound limit.", load(s.slow_consumer_disconnects));
    metric("write_timeouts_total", "counter", "Streams closed after a write made no progress.",
           load(s.write_timeouts));
    metric("publish_rate_buckets", "gauge",
           "Publishers with a limits.publish_rate bucket (idle ones are dropped).",
           srv.publish_rate().size());
    metric("connection_addresses", "gauge",
           "Client addresses counted by limits.connections_per_address.",
           srv.limiter().addresses());
    metric("request_timeouts_total", "counter",
           "Requests whose head or body was too slow to arrive (408).", load(s.request_timeouts));
    out += "# HELP ssehub_request_refusals_total Requests refused, by status.\n"
           "# TYPE ssehub_request_refusals_total counter\n";
    for (std::size_t i = 0; i <= refusal_statuses.size(); ++i) {
        out += "ssehub_request_refusals_total{status=\"";
        out += i < refusal_statuses.size() ? std::to_string(refusal_statuses[i]) : "other";
        out += "\"} " + std::to_string(load(s.refusals[i])) + "\n";
    }
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
                        const std::vector<std::string>& seg, const publisher& who) {
    auto& h = srv.get_hub();

    // /api/v1/sessions
    if (seg.size() == 3) {
        if (req.method() != verb::get) {
            return not_allowed(req, "GET");
        }
        if (auto ok = require(who, right::introspection, ns); !ok) {
            return error_response(req, ok.error());
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
        if (auto ok = require(who, right::membership, ns); !ok) {
            return error_response(req, ok.error());
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
        if (auto ok = require(who, right::push, ns); !ok) {
            return error_response(req, ok.error());
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
                        const std::vector<std::string>& seg, const publisher& who) {
    auto& h = srv.get_hub();

    // /api/v1/channels
    if (seg.size() == 3) {
        if (req.method() != verb::get) {
            return not_allowed(req, "GET");
        }
        if (auto ok = require(who, right::introspection, ns); !ok) {
            return error_response(req, ok.error());
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
        if (auto ok = require(who, right::introspection, ns); !ok) {
            return error_response(req, ok.error());
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
        if (auto ok = require(who, right::broadcast, ns); !ok) {
            return error_response(req, ok.error());
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
        if (req.method() != verb::put && req.method() != verb::delete_) {
            return not_allowed(req, "PUT, DELETE");
        }
        if (auto ok = require(who, right::membership, ns); !ok) {
            return error_response(req, ok.error());
        }
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
    // Probes and metrics are read-only.
    const bool probe =
        seg.size() == 1 && (seg[0] == "healthz" || seg[0] == "readyz" || seg[0] == "metrics");
    if (probe && req.method() != verb::get) {
        return not_allowed(req, "GET");
    }
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
        // Counters cover every tenant: with credentials, only the default tenant reads them.
        if (!srv.auth().publishers_open()) {
            auto who = srv.auth().authenticate_publisher(req);
            if (!who) {
                return error_response(req, who.error());
            }
            if (!who->tenant.empty() || !who->rights.introspection) {
                return error_response(
                    req, make_error(errc::forbidden,
                                    "/metrics needs the introspection right in the default tenant",
                                    "headers.authorization"));
            }
        }
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

    // Who calls: the tenant of the key or token is part of every namespace it acts in.
    auto who = srv.auth().authenticate_publisher(req);
    if (!who) {
        return error_response(req, who.error());
    }
    // Open access is one publisher: every anonymous caller shares one bucket.
    if (!srv.publish_rate().allow(who->name)) {
        auto res =
            error_response(req, make_error(errc::limit_exceeded,
                                           "over limits.publish_rate (" +
                                               std::to_string(srv.options().publish_rate) +
                                               " requests per second for this key); retry later",
                                           "headers.authorization"));
        res.set(beast_http::field::retry_after, "1");
        return res;
    }
    auto ns = query_namespace(url);
    ns.tenant = who->tenant;

    if (seg[2] == "actions" && seg.size() == 3) {
        if (req.method() != verb::post) {
            return not_allowed(req, "POST");
        }
        auto doc = parse_json_body(req.body(), "body");
        if (!doc) {
            return error_response(req, doc.error());
        }
        if (auto ok = check_pins(*who, *doc, ns, ""); !ok) {
            return error_response(req, ok.error());
        }
        auto r = srv.get_engine().execute(*doc, ns);
        if (!r) {
            return error_response(req, r.error());
        }
        return json_response(req, beast_http::status::ok, *r);
    }
    if (seg[2] == "sessions") {
        return sessions_route(srv, req, ns, seg, *who);
    }
    if (seg[2] == "channels") {
        return channels_route(srv, req, ns, seg, *who);
    }
    return not_found(req);
}

} // namespace ssehub::http
