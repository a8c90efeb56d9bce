// SPDX-License-Identifier: Apache-2.0
#include "actions/engine.hpp"

#include "actions/path.hpp"
#include "actions/pin.hpp"
#include "actions/template.hpp"
#include "core/log.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <exception>
#include <spdlog/spdlog.h>
#include <string>
#include <variant>

namespace ssehub::actions {

namespace json = boost::json;

namespace {

std::shared_ptr<spdlog::logger> log() {
    return core::logger("actions");
}

bool has_actions(const json::value& list) noexcept {
    return list.is_array() && !list.get_array().empty();
}

// The session's end, as the pins of one of its lists see it.
struct end_scope {
    const ended_session& session;
    const std::string* channel; // null for the session's own list
};

spdlog::level::level_enum to_spdlog(log_level level) noexcept {
    switch (level) {
    case log_level::trace:
        return spdlog::level::trace;
    case log_level::debug:
        return spdlog::level::debug;
    case log_level::info:
        return spdlog::level::info;
    case log_level::warn:
        return spdlog::level::warn;
    case log_level::error:
        return spdlog::level::err;
    }
    return spdlog::level::info;
}

// A caller's text on one log line: a line break in it must not forge a line of its own.
std::string printable(std::string_view text) {
    constexpr std::string_view hex = "0123456789abcdef";
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (u < 0x20 || u == 0x7F) {
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 0x0F];
        } else {
            out += c;
        }
    }
    return out;
}

json::value string_or_null(const std::optional<std::string>& s) {
    if (s) {
        return json::value(*s);
    }
    return json::value(nullptr);
}

// The hub names the offending value by its own parameter (`id`, `session.id`, `message`);
// in a pin it is a property, so the error points at that property of this pin.
error at_pin(error e, std::string_view element, const std::string& pin_path) {
    std::string_view property;
    if (e.path == "session.id" || (e.path == "session" && element == "registerChannel")) {
        property = "session";
    } else if (e.path == "session" && element == "registerSession") {
        property = "id";
    } else if (e.path == "id" || e.path == "message" || e.path == "event" || e.path == "digipair" ||
               e.path == "reasoning") {
        property = e.path;
    }

    if (property.empty()) {
        e.path = pin_path;
    } else if (element == "notify") {
        // The shorthand has no `properties`: its message sits beside `type`.
        e.path = property == "message" ? path_key(pin_path, "message") : pin_path;
    } else {
        e.path = path_key(path_key(pin_path, "properties"), property);
    }
    return e;
}

// The context of an action, as a webhook's default body sees it: the reason, the session
// and, for a channel's action, the channel. Empty for a pin of a request.
json::object action_context(const end_scope* end) {
    if (end == nullptr) {
        return {};
    }
    const auto& s = end->session;
    json::array channels;
    for (const auto& c : s.channels) {
        channels.emplace_back(c);
    }
    json::object out{
        {"reason", to_string(s.reason)},
        {"session",
         json::object{
             {"id", s.id},
             {"namespace",
              json::object{{"digipair", s.ns.digipair}, {"reasoning", s.ns.reasoning}}},
             {"channels", std::move(channels)},
             {"connectedMs", s.connected_for.count()},
         }},
    };
    if (end->channel != nullptr) {
        out["channel"] = json::object{{"id", *end->channel}};
    }
    return out;
}

// True when a string inside `v` holds a template naming `previous`: such a pin of a request
// is rendered again, as it runs, with the result of the pin before it.
bool mentions_previous(const json::value& v) {
    if (v.is_string()) {
        const std::string_view text = v.get_string();
        return text.find("{{") != std::string_view::npos &&
               text.find("previous") != std::string_view::npos;
    }
    if (v.is_array()) {
        const auto& a = v.get_array();
        return std::any_of(a.begin(), a.end(), [](const auto& x) { return mentions_previous(x); });
    }
    if (v.is_object()) {
        const auto& o = v.get_object();
        return std::any_of(o.begin(), o.end(),
                           [](const auto& m) { return mentions_previous(m.value()); });
    }
    return false;
}

// Runs one checked pin against the hub and builds its result (DESIGN.md section 2).
class pin_runner {
public:
    pin_runner(hub& target, const std::string& path, const namespace_id& default_ns,
               const end_scope* end, webhook_sender* webhooks, const std::string* forward_url)
        : hub_(target), path_(path), default_ns_(default_ns), end_(end), webhooks_(webhooks),
          forward_url_(forward_url) {}

    result<json::value> operator()(register_session_pin& p) const {
        auto r = hub_.register_session(p.ns.resolve(default_ns_), p.id, std::move(p.disconnected));
        if (!r) {
            return at_pin(r.error(), "registerSession", path_);
        }
        return json::object{
            {"id", r->id},
            {"connected", r->connected},
            {"lastEventId", string_or_null(r->last_event_id)},
        };
    }

    result<json::value> operator()(register_channel_pin& p) const {
        const auto ns = p.ns.resolve(default_ns_);
        std::optional<std::string_view> session;
        if (p.session) {
            session = *p.session;
        }
        auto r = hub_.register_channel(ns, p.id, session, std::move(p.disconnected));
        if (r) {
            return json::object{{"id", r->id}, {"sessions", r->sessions}};
        }

        // An unknown target is a result in a pin, never an error (DESIGN.md section 3).
        if (r.error().code != errc::not_found) {
            return at_pin(r.error(), "registerChannel", path_);
        }
        const auto channel = hub_.channel(ns, p.id);
        return json::object{
            {"id", p.id},
            {"sessions", channel ? channel->sessions.size() : 0},
            {"warning", r.error().message},
        };
    }

    result<json::value> operator()(push_pin& p) const {
        auto r = hub_.push(p.ns.resolve(default_ns_), p.id, p.message);
        if (!r && r.error().code == errc::not_found) {
            return json::object{
                {"delivered", 0}, {"eventId", nullptr}, {"warning", r.error().message}};
        }
        if (!r) {
            return at_pin(r.error(), "push", path_);
        }
        json::object out{{"delivered", r->delivered}, {"eventId", string_or_null(r->event_id)}};
        if (!r->warning.empty()) {
            out["warning"] = r->warning;
        }
        return out;
    }

    result<json::value> operator()(broadcast_pin& p) const {
        auto r = hub_.broadcast(p.ns.resolve(default_ns_), p.id, p.message, p.event);
        if (!r) {
            return at_pin(r.error(), "broadcast", path_);
        }
        json::object out{
            {"delivered", r->delivered},
            {"eventId", string_or_null(r->event_id)},
            {"sessions", r->sessions},
        };
        if (!r->warning.empty()) {
            out["warning"] = r->warning;
        }
        return out;
    }

    result<json::value> operator()(log_pin& p) const {
        const auto logger = log();
        const auto level = to_spdlog(p.level);
        if (!logger->should_log(level)) {
            return json::object{{"logged", true}};
        }

        std::string line = printable(p.message);
        if (end_ != nullptr) {
            const auto& s = end_->session;
            line += " (session=" + s.id;
            if (end_->channel != nullptr) {
                line += " channel=" + *end_->channel;
            }
            line += " reason=";
            line += to_string(s.reason);
            if (s.ns != namespace_id{}) {
                line += " ns=" + to_string(s.ns);
            }
            line += ')';
        }
        logger->log(level, "{}", line);
        return json::object{{"logged", true}};
    }

    result<json::value> operator()(close_pin& p) const {
        auto r = hub_.kick(p.ns.resolve(default_ns_), p.id);
        if (r) {
            return json::object{{"closed", true}};
        }
        if (r.error().code == errc::not_found) {
            return json::object{{"closed", false}};
        }
        return at_pin(r.error(), "close", path_);
    }

    result<json::value> operator()(notify_pin& p) const {
        if (end_ == nullptr) {
            return make_error(errc::internal, "notify runs only when a session ends", path_);
        }

        // Every channel gets its broadcast even when one of them fails; the first failure
        // is what the caller logs.
        const auto& s = end_->session;
        std::size_t delivered = 0;
        std::optional<error> failed;
        for (const auto& channel : s.channels) {
            auto r = hub_.broadcast(s.ns, channel, p.message, "notify");
            if (!r) {
                if (!failed) {
                    failed = at_pin(r.error(), "notify", path_);
                    failed->message += " (channel '" + channel + "')";
                }
                continue;
            }
            delivered += r->delivered;
        }
        if (failed) {
            return *failed;
        }
        return json::object{{"delivered", delivered}, {"channels", s.channels.size()}};
    }

    result<json::value> operator()(webhook_pin& p) const {
        if (webhooks_ == nullptr) {
            return make_error(errc::internal, "webhooks are not available here", path_);
        }

        // Queued, not awaited: a slow receiver never holds up the actions behind it.
        std::string body = json::serialize(p.body ? *p.body : action_context(end_));
        if (!webhooks_->post(p.url, std::move(body), describe({}))) {
            return make_error(errc::limit_exceeded, "the webhook queue is full", path_);
        }
        return json::object{{"queued", true}};
    }

    result<json::value> operator()(forward_pin& p) const {
        if (webhooks_ == nullptr || forward_url_ == nullptr || forward_url_->empty()) {
            return make_error(errc::internal, "actions.forward_url is not set", path_);
        }
        json::object body{{"pin", std::move(p.document)}, {"context", action_context(end_)}};
        if (!webhooks_->post(*forward_url_, json::serialize(body), describe("forward"))) {
            return make_error(errc::limit_exceeded, "the webhook queue is full", path_);
        }
        return json::object{{"forwarded", true}};
    }

    result<json::value> operator()(skipped_pin&) const { return json::object{{"skipped", true}}; }

    result<json::value> operator()(each_pin& p) const {
        json::array out;
        out.reserve(p.runs.size());
        for (std::size_t i = 0; i < p.runs.size(); ++i) {
            auto r = std::visit(*this, p.runs[i]);
            if (!r) {
                auto e = std::move(r).error();
                e.message += " (item " + std::to_string(i) + " of conditions.each)";
                return e;
            }
            out.push_back(std::move(*r));
        }
        return out;
    }

private:
    // Names the action in the sender's log lines.
    std::string describe(std::string_view what) const {
        std::string out;
        if (end_ != nullptr) {
            out = "session=" + end_->session.id +
                  (end_->channel != nullptr ? " channel=" + *end_->channel : "") + " ";
        }
        out += "action=" + path_;
        if (!what.empty()) {
            out += " (" + std::string(what) + ")";
        }
        return out;
    }

    hub& hub_;
    const std::string& path_;
    const namespace_id& default_ns_;
    const end_scope* end_;
    webhook_sender* webhooks_;
    const std::string* forward_url_;
};

// Exceptions stop at the pin that threw (fix 4): the caller gets an error with its path.
result<json::value> run_guarded(hub& target, pin& p, const std::string& path,
                                const namespace_id& default_ns, const end_scope* end,
                                webhook_sender* webhooks, const std::string* forward_url) {
    try {
        return std::visit(pin_runner(target, path, default_ns, end, webhooks, forward_url), p);
    } catch (const std::exception& ex) {
        return make_error(errc::internal, std::string("the action threw: ") + ex.what(), path);
    } catch (...) {
        return make_error(errc::internal, "the action threw an unknown exception", path);
    }
}

// A stored pin rendered for this run, then run: the rendering may break a limit the
// registration could not see (an id grown too long), so it is parsed again here.
result<json::value> parse_and_run(hub& target, const json::value& doc, const std::string& path,
                                  const parse_options& options, const namespace_id& ns,
                                  const end_scope* end, webhook_sender* webhooks,
                                  const std::string* forward_url) {
    try {
        auto p = parse_pin(doc, path, options);
        if (!p) {
            return p.error();
        }
        return run_guarded(target, *p, path, ns, end, webhooks, forward_url);
    } catch (const std::exception& ex) {
        return make_error(errc::internal, std::string("the action threw: ") + ex.what(), path);
    }
}

} // namespace

engine::engine(hub& target, engine_options options)
    : hub_(target), options_(std::move(options)),
      webhooks_(std::make_unique<webhook_sender>(io_, options_.webhooks)) {}

pin_limits engine::limits() const {
    auto out = pin_limits::from(hub_.options());
    out.webhook_allow = options_.webhooks.allow;
    out.forward = !options_.forward_url.empty();
    return out;
}

engine::~engine() {
    stop();
}

result<json::value> engine::execute(const json::value& document, const namespace_id& default_ns) {
    auto pins = parse_document(document, limits());
    if (!pins) {
        return pins.error();
    }

    const bool many = document.is_array();
    json::array results;
    results.reserve(pins->size());
    const json::value none;
    for (std::size_t i = 0; i < pins->size(); ++i) {
        const auto path = many ? path_index({}, i) : std::string();
        const auto& doc = many ? document.get_array()[i] : document;
        result<json::value> r = json::value();
        if (mentions_previous(doc)) {
            auto context = template_context::request();
            context.previous = results.empty() ? &none : &results.back();
            r = parse_and_run(hub_, doc, path, {limits(), pin_scope::request, context}, default_ns,
                              nullptr, webhooks_.get(), &options_.forward_url);
        } else {
            r = run_guarded(hub_, (*pins)[i], path, default_ns, nullptr, webhooks_.get(),
                            &options_.forward_url);
        }
        if (!r) {
            // Validation was all or nothing; execution is not, so say what already ran.
            auto e = std::move(r).error();
            if (i == 1) {
                e.message += " (pin [0] has run)";
            } else if (i > 1) {
                e.message += " (pins [0] to [" + std::to_string(i - 1) + "] have run)";
            }
            return e;
        }
        results.push_back(std::move(*r));
    }

    if (!many) {
        return std::move(results.front());
    }
    return json::value(std::move(results));
}

void engine::on_session_end(ended_session s) {
    const bool any =
        has_actions(s.actions) || std::any_of(s.channel_end.begin(), s.channel_end.end(),
                                              [](const auto& c) { return has_actions(c.actions); });
    if (!any) {
        return;
    }

    std::lock_guard lock(mu_);
    if (state_ == state::stopped) {
        count_drop(s, "the action runner has stopped");
        return;
    }
    if (stats_.pending.load(std::memory_order_relaxed) >= options_.queue_limit) {
        count_drop(s, "the action queue is full");
        return;
    }

    stats_.pending.fetch_add(1, std::memory_order_relaxed);
    boost::asio::post(io_, [this, s = std::move(s)] {
        run_ended(s);
        stats_.pending.fetch_sub(1, std::memory_order_relaxed);
    });
}

void engine::count_drop(const ended_session& s, const char* why) {
    const auto n = stats_.dropped.fetch_add(1, std::memory_order_relaxed) + 1;

    // Drops come in storms: log the 1st, 2nd, 4th, 8th... so the log stays readable while
    // the counter keeps the exact total.
    if ((n & (n - 1)) == 0) {
        log()->warn("disconnected actions dropped session={} reason={}: {} (dropped={})", s.id,
                    to_string(s.reason), why, n);
    }
}

void engine::start() {
    std::lock_guard lock(mu_);
    if (state_ != state::idle) {
        return;
    }
    work_.emplace(io_.get_executor());
    thread_ = std::thread([this] {
        // Each action catches its own exceptions; this loop is the last line of defence,
        // so one escaping handler does not end the runner.
        for (;;) {
            try {
                io_.run();
                break;
            } catch (const std::exception& ex) {
                log()->error("action runner caught an exception: {}", ex.what());
            } catch (...) {
                log()->error("action runner caught an unknown exception");
            }
        }
        std::lock_guard done(mu_);
        finished_ = true;
        finished_cv_.notify_all();
    });
    state_ = state::running;
}

void engine::stop() {
    {
        std::unique_lock lock(mu_);
        if (state_ == state::idle) {
            // Never started: what was queued never runs.
            state_ = state::stopped;
            if (const auto left = stats_.pending.exchange(0, std::memory_order_relaxed)) {
                stats_.dropped.fetch_add(left, std::memory_order_relaxed);
                log()->warn("action runner stopped before it started dropped={}", left);
            }
            return;
        }
        if (state_ != state::running) {
            return;
        }
        state_ = state::stopping;

        // Without the guard, run() returns once the queue is empty. Runs may still be
        // queued meanwhile, by actions that end other sessions.
        work_.reset();
        if (!finished_cv_.wait_for(lock, options_.stop_deadline, [this] { return finished_; })) {
            abandon_.store(true, std::memory_order_relaxed);
            io_.stop();
        }
    }

    // Not under mu_: the action still running may end a session and call on_session_end().
    thread_.join();

    std::lock_guard lock(mu_);
    state_ = state::stopped;
    if (const auto left = stats_.pending.exchange(0, std::memory_order_relaxed)) {
        stats_.dropped.fetch_add(left, std::memory_order_relaxed);
        log()->warn("action runner stopped past its deadline dropped={} deadline={}ms", left,
                    options_.stop_deadline.count());
    }
}

void engine::run_ended(const ended_session& s) {
    stats_.runs.fetch_add(1, std::memory_order_relaxed);
    if (has_actions(s.actions)) {
        run_list(s, s.actions, nullptr);
    }
    for (const auto& channel : s.channel_end) {
        if (abandon_.load(std::memory_order_relaxed)) {
            return;
        }
        if (has_actions(channel.actions)) {
            run_list(s, channel.actions, &channel.id);
        }
    }
}

void engine::run_list(const ended_session& s, const json::value& list, const std::string* channel) {
    // `{{token.x}}`: the claims of the subscriber's verified JWT; none renders "".
    static const json::value no_claims = json::object{};
    json::value previous;
    const template_context context{
        .session_id = s.id,
        .channel_id = channel != nullptr ? std::string_view(*channel) : "",
        .reason = to_string(s.reason),
        .stream_request = nullptr,
        .stand_in = false,
        .item = nullptr,
        .previous = &previous,
        .token = s.claims.is_object() ? &s.claims : &no_claims,
    };
    const parse_options options{limits(), pin_scope::session_end, context};
    const end_scope end{s, channel};

    const auto& pins = list.get_array();
    for (std::size_t i = 0; i < pins.size(); ++i) {
        if (abandon_.load(std::memory_order_relaxed)) {
            return;
        }
        stats_.actions.fetch_add(1, std::memory_order_relaxed);
        const auto path = path_index("disconnected", i);

        auto r = parse_and_run(hub_, pins[i], path, options, s.ns, &end, webhooks_.get(),
                               &options_.forward_url);
        if (r) {
            previous = std::move(*r);
            continue;
        }
        previous = nullptr;

        // One failing action never stops the next one (fix 4).
        stats_.failures.fetch_add(1, std::memory_order_relaxed);
        const auto& e = r.error();
        log()->warn("action failed session={}{}{} {}: {}", s.id,
                    channel != nullptr ? " channel=" : "", channel != nullptr ? *channel : "",
                    e.path.empty() ? path : e.path, e.message);
    }
}

} // namespace ssehub::actions

namespace ssehub::actions {

result<void> engine::check_connect(const json::value& pins, const std::string& path) const {
    if (!pins.is_array()) {
        return make_error(errc::bad_request, "must be an array of pins", path);
    }
    const parse_options options{limits(), pin_scope::request, template_context::probe_connect()};
    const auto& list = pins.get_array();
    for (std::size_t i = 0; i < list.size(); ++i) {
        if (auto p = parse_pin(list[i], path_index(path, i), options); !p) {
            return p.error();
        }
    }
    return {};
}

void engine::on_connect(const json::value& pins, namespace_id ns, std::string session,
                        json::value request, json::value claims) {
    if (!has_actions(pins)) {
        return;
    }
    std::lock_guard lock(mu_);
    if (state_ == state::stopped) {
        return;
    }
    stats_.pending.fetch_add(1, std::memory_order_relaxed);
    boost::asio::post(io_, [this, &pins, ns = std::move(ns), session = std::move(session),
                            request = std::move(request), claims = std::move(claims)] {
        run_connect(pins, ns, session, request, claims);
        stats_.pending.fetch_sub(1, std::memory_order_relaxed);
    });
}

void engine::run_connect(const json::value& pins, const namespace_id& ns,
                         const std::string& session, const json::value& request,
                         const json::value& claims) {
    static const json::value no_claims = json::object{};
    json::value previous;
    const template_context context{
        .session_id = session,
        .channel_id = std::nullopt,
        .reason = std::nullopt,
        .stream_request = &request,
        .stand_in = false,
        .item = nullptr,
        .previous = &previous,
        .token = claims.is_object() ? &claims : &no_claims,
    };
    const parse_options options{limits(), pin_scope::request, context};
    const auto& list = pins.get_array();
    for (std::size_t i = 0; i < list.size(); ++i) {
        if (abandon_.load(std::memory_order_relaxed)) {
            return;
        }
        stats_.actions.fetch_add(1, std::memory_order_relaxed);
        const auto path = path_index("connect", i);
        auto r = parse_and_run(hub_, list[i], path, options, ns, nullptr, webhooks_.get(),
                               &options_.forward_url);
        if (r) {
            previous = std::move(*r);
            continue;
        }
        previous = nullptr;
        stats_.failures.fetch_add(1, std::memory_order_relaxed);
        log()->warn("action failed session={} {}: {}", session,
                    r.error().path.empty() ? path : r.error().path, r.error().message);
    }
}

} // namespace ssehub::actions
