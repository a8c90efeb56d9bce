// SPDX-License-Identifier: Apache-2.0
#include "core/encoder.hpp"
#include "core/event_id.hpp"
#include "core/history.hpp"
#include "core/log.hpp"
#include "core/shard.hpp"
#include "core/validate.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <mutex>
#include <random>
#include <ssehub/hub.hpp>
#include <unordered_map>

namespace ssehub {

namespace {

namespace asio = boost::asio;

constexpr std::size_t shard_bits = 8; // a token's low bits name its shard
constexpr std::size_t max_shards = std::size_t{1} << shard_bits;

struct string_hash {
    using is_transparent = void;

    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

template <class T>
using string_map = std::unordered_map<std::string, T, string_hash, std::equal_to<>>;

struct session_state;
struct namespace_state;

struct channel_state {
    explicit channel_state(core::history_budget* budget) : log(budget) {}

    std::string id;
    std::uint64_t uid = 0;
    namespace_state* ns = nullptr;
    std::vector<session_state*> members;
    std::size_t connected = 0;
    boost::json::value actions;
    core::history log;
    clock::time_point active_at = clock::now(); ///< created, last member left, last event
};

struct session_state {
    explicit session_state(core::history_budget* budget) : log(budget) {}

    std::string id;
    std::uint64_t uid = 0;
    namespace_state* ns = nullptr;
    std::vector<channel_state*> channels; // the default channel first, then named ones
    boost::json::value actions;
    core::history log;

    std::uint64_t token = 0; // current attachment, 0 when no connection
    std::string remote;
    boost::json::value claims; // the verified JWT of its last connection, for its actions
    clock::time_point connected_at{};
    std::uint64_t grace_generation = 0; // bumped on attach, so stale grace timers do nothing
    end_reason drop_reason = end_reason::client_closed;
};

struct namespace_state {
    namespace_id id;
    string_map<std::unique_ptr<session_state>> sessions;
    string_map<std::unique_ptr<channel_state>> channels; // holds the default channel ""
};

std::string random_session_id() {
    // 128 bits from the system's random source, in hex: unguessable.
    std::random_device source;
    std::uniform_int_distribution<std::uint32_t> word;
    std::string out;
    out.reserve(32);
    constexpr std::string_view hex = "0123456789abcdef";
    for (int i = 0; i < 4; ++i) {
        auto w = word(source);
        for (int k = 0; k < 8; ++k) {
            out += hex[w & 0xFu];
            w >>= 4;
        }
    }
    return out;
}

} // namespace

struct hub::impl {
    impl(hub_options o, std::vector<asio::io_context*> contexts)
        : opts(std::move(o)), budget(opts.history_max_bytes),
          codec(core::event_id_codec::random_epoch()) {
        if (contexts.empty() || contexts.size() > max_shards) {
            throw std::invalid_argument("a hub needs 1 to 256 shards");
        }
        for (auto* ioc : contexts) {
            shards.push_back(std::make_unique<core::shard>(*ioc));
        }
    }

    core::history::limits session_limits() const {
        return {opts.session_history_events, opts.session_history_age};
    }

    core::history::limits channel_limits() const {
        return {opts.channel_history_events, opts.channel_history_age};
    }

    core::shard& shard_of(std::uint64_t token) { return *shards[token & (max_shards - 1)]; }

    namespace_state* find_ns(const namespace_id& id) {
        auto it = namespaces.find(id);
        return it == namespaces.end() ? nullptr : it->second.get();
    }

    namespace_state& ns_for(const namespace_id& id) {
        auto& slot = namespaces[id];
        if (!slot) {
            slot = std::make_unique<namespace_state>();
            slot->id = id;
            channel_for(*slot, "");
        }
        return *slot;
    }

    channel_state& channel_for(namespace_state& ns, std::string_view id) {
        auto it = ns.channels.find(id);
        if (it != ns.channels.end()) {
            return *it->second;
        }
        auto ch = std::make_unique<channel_state>(&budget);
        ch->id = std::string(id);
        ch->uid = ++next_uid;
        ch->ns = &ns;
        auto& ref = *ch;
        ns.channels.emplace(ref.id, std::move(ch));
        stats.channels.fetch_add(1, std::memory_order_relaxed);
        return ref;
    }

    static session_state* find_session(namespace_state* ns, std::string_view id) {
        if (ns == nullptr) {
            return nullptr;
        }
        auto it = ns->sessions.find(id);
        return it == ns->sessions.end() ? nullptr : it->second.get();
    }

    result<session_state*> session_for(namespace_state& ns, std::string_view id) {
        if (auto* s = find_session(&ns, id)) {
            return s;
        }
        if (ns.sessions.size() >= opts.sessions_per_namespace) {
            return make_error(errc::limit_exceeded,
                              "the namespace holds " + std::to_string(ns.sessions.size()) +
                                  " sessions, its limit (limits.sessions_per_namespace)",
                              "session");
        }
        // A tenant may open many namespaces; its sessions together have a bound too.
        auto& of_tenant = sessions_by_tenant[ns.id.tenant];
        if (opts.sessions_per_tenant > 0 && of_tenant >= opts.sessions_per_tenant) {
            return make_error(errc::limit_exceeded,
                              "the tenant holds " + std::to_string(of_tenant) +
                                  " sessions, its limit (limits.sessions_per_tenant)",
                              "session");
        }
        ++of_tenant;
        auto s = std::make_unique<session_state>(&budget);
        s->id = std::string(id);
        if (auto it = ended_streams.find(stream_key(ns.id, id)); it != ended_streams.end()) {
            s->log.lost_through(it->second.newest);
            ended_streams.erase(it);
        }
        s->uid = ++next_uid;
        s->ns = &ns;
        auto& ref = *s;
        ns.sessions.emplace(ref.id, std::move(s));
        stats.sessions.fetch_add(1, std::memory_order_relaxed);
        add_member(ref, channel_for(ns, ""));
        return &ref;
    }

    static bool is_member(const session_state& s, const channel_state& ch) {
        return std::find(s.channels.begin(), s.channels.end(), &ch) != s.channels.end();
    }

    // Both indexes change together; the shard learns of it when the session is connected.
    void add_member(session_state& s, channel_state& ch) {
        s.channels.push_back(&ch);
        ch.members.push_back(&s);
        if (s.token != 0) {
            ++ch.connected;
            shard_of(s.token).submit_join(s.token, ch.uid);
        }
    }

    void remove_member(session_state& s, channel_state& ch) {
        std::erase(s.channels, &ch);
        std::erase(ch.members, &s);
        if (s.token != 0) {
            --ch.connected;
            shard_of(s.token).submit_leave(s.token, ch.uid);
        }
        touch_if_empty(ch);
    }

    // An empty channel stays known, with its history, for history.channel_age after its
    // last member left or its last event; the sweep forgets it then (fix 5, F16, F26).
    static void touch_if_empty(channel_state& ch) {
        if (ch.members.empty()) {
            ch.active_at = clock::now();
        }
    }

    bool expired(const channel_state& ch, clock::time_point now) const {
        return !ch.id.empty() && ch.members.empty() && ch.log.empty() &&
               now - ch.active_at >= opts.channel_history_age;
    }

    // Forgets a channel that a failed call has just created, so the failure changes nothing.
    void drop_created(channel_state& ch, bool existed) {
        if (existed || ch.id.empty() || !ch.members.empty() || !ch.log.empty()) {
            return;
        }
        auto& channels = ch.ns->channels;
        channels.erase(channels.find(std::string_view(ch.id))); // destroys `ch`
        stats.channels.fetch_sub(1, std::memory_order_relaxed);
    }

    std::size_t named_channel_count(const session_state& s) const {
        return s.channels.empty() ? 0 : s.channels.size() - 1;
    }

    std::string position() const { return codec.format(next_seq); }

    event_ptr make_event(std::string_view name, const std::string& data) {
        auto ev = std::make_shared<event>();
        ev->seq = ++next_seq;
        ev->at = clock::now();
        ev->bytes = core::encode_event(name, codec.format(ev->seq), data);
        stats.events_published.fetch_add(1, std::memory_order_relaxed);
        return ev;
    }

    // Detaches the session's connection from the registry (not from its shard).
    void clear_attachment(session_state& s) {
        for (auto* ch : s.channels) {
            --ch->connected;
        }
        s.token = 0;
        s.remote.clear();
        stats.connections.fetch_sub(1, std::memory_order_relaxed);
    }

    // Removes the session everywhere and returns what its actions need. A connected
    // session's sink is told to close.
    ended_session end_session(session_state& s, end_reason why) {
        ended_session out;
        out.ns = s.ns->id;
        out.id = s.id;
        out.reason = why;
        out.actions = std::move(s.actions);
        out.remote = s.remote;
        out.claims = std::move(s.claims);
        if (s.connected_at != clock::time_point{}) {
            out.connected_for = std::chrono::duration_cast<std::chrono::milliseconds>(
                clock::now() - s.connected_at);
        }
        for (auto* ch : s.channels) {
            if (!ch->id.empty()) {
                out.channels.push_back(ch->id);
            }
            if (!ch->actions.is_null()) {
                out.channel_end.push_back({ch->id, ch->actions});
            }
        }

        if (s.token != 0) {
            shard_of(s.token).submit_close(s.token, why);
            attachments.erase(s.token);
            clear_attachment(s);
        }
        auto channels = s.channels;
        for (auto* ch : channels) {
            std::erase(ch->members, &s);
            touch_if_empty(*ch);
        }

        // The events of its stream go with it; remember where they reached, so a client
        // that comes back with an older id is told with `gap`, not given an empty stream
        // as if nothing had been there.
        if (const auto newest = std::max(s.log.newest(), s.log.evicted_through()); newest > 0) {
            ended_streams[stream_key(s.ns->id, s.id)] = {newest, clock::now()};
        }

        auto* ns = s.ns;
        if (auto t = sessions_by_tenant.find(ns->id.tenant);
            t != sessions_by_tenant.end() && --t->second == 0) {
            sessions_by_tenant.erase(t);
        }
        ns->sessions.erase(ns->sessions.find(std::string_view(s.id))); // destroys `s`
        stats.sessions.fetch_sub(1, std::memory_order_relaxed);
        stats.sessions_ended.fetch_add(1, std::memory_order_relaxed);
        drop_ns_if_empty(*ns);
        return out;
    }

    static std::string stream_key(const namespace_id& ns, std::string_view id) {
        std::string key;
        key.reserve(ns.tenant.size() + ns.digipair.size() + ns.reasoning.size() + id.size() + 3);
        for (std::string_view part : {std::string_view(ns.tenant), std::string_view(ns.digipair),
                                      std::string_view(ns.reasoning)}) {
            key += part;
            key += '\0';
        }
        key += id;
        return key;
    }

    void drop_ns_if_empty(namespace_state& ns) {
        if (!ns.sessions.empty() || ns.channels.size() > 1) {
            return;
        }
        auto it = ns.channels.find(std::string_view{});
        if (it != ns.channels.end()) {
            if (!it->second->log.empty()) {
                return;
            }
            stats.channels.fetch_sub(1, std::memory_order_relaxed);
        }
        namespaces.erase(namespaces.find(ns.id)); // destroys `ns`
    }

    void start_grace(session_state& s) {
        const auto generation = ++s.grace_generation;
        auto& sh = *shards[s.uid % shards.size()];
        auto timer = std::make_shared<asio::steady_timer>(sh.context(), opts.session_grace);
        timer->async_wait([this, timer, ns = s.ns->id, id = s.id, generation](auto ec) {
            if (ec) {
                return;
            }
            grace_expired(ns, id, generation);
        });
    }

    void grace_expired(const namespace_id& ns_id, const std::string& id, std::uint64_t generation) {
        std::optional<ended_session> ended;
        {
            std::lock_guard lock(mu);
            auto* s = find_session(find_ns(ns_id), id);
            if (s == nullptr || s->token != 0 || s->grace_generation != generation) {
                return;
            }
            ended = end_session(*s, s->drop_reason);
        }
        report(std::move(*ended));
    }

    void report(ended_session e) {
        core::logger("core")->debug("session ended session={} namespace={} reason={}", e.id,
                                    to_string(e.ns), to_string(e.reason));
        if (on_end) {
            on_end(std::move(e));
        }
    }

    // Keeps the history of every stream within history.max_bytes, oldest first; publishes
    // and the sweep call it once their rings changed.
    void enforce_budget() {
        if (const auto evicted = budget.enforce(); evicted > 0) {
            stats.history_evictions.fetch_add(evicted, std::memory_order_relaxed);
        }
        stats.history_bytes.store(budget.charged(), std::memory_order_relaxed);
    }

    std::mutex mu;
    hub_options opts;
    core::history_budget budget; // before every ring, which it outlives
    core::event_id_codec codec;
    std::vector<std::unique_ptr<core::shard>> shards;
    std::unordered_map<namespace_id, std::unique_ptr<namespace_state>, namespace_hash> namespaces;
    std::unordered_map<std::uint64_t, session_state*> attachments;
    std::unordered_map<std::string, std::size_t> sessions_by_tenant;

    // Ended sessions whose stream held events: how far it reached, for history.session_age.
    struct ended_stream {
        std::uint64_t newest = 0;
        clock::time_point at;
    };

    string_map<ended_stream> ended_streams;
    std::uint64_t next_seq = 0;
    std::uint64_t next_uid = 0;
    std::uint64_t next_attach = 0;
    bool stopping = false;
    end_handler on_end;
    hub_stats stats;
};

hub::hub(hub_options options, std::vector<asio::io_context*> shards)
    : impl_(std::make_unique<impl>(std::move(options), std::move(shards))) {}

hub::~hub() = default;

void hub::set_end_handler(end_handler handler) {
    impl_->on_end = std::move(handler);
}

const hub_options& hub::options() const noexcept {
    return impl_->opts;
}

const hub_stats& hub::stats() const noexcept {
    return impl_->stats;
}

std::size_t hub::shard_count() const noexcept {
    return impl_->shards.size();
}

namespace {

result<void> check_namespace(const namespace_id& ns, std::size_t max_length) {
    if (auto r = core::check_id(ns.digipair, max_length, "digipair", true); !r) {
        return r;
    }
    return core::check_id(ns.reasoning, max_length, "reasoning", true);
}

// The path of the first number JSON cannot write (1e999 parses as infinity), or nothing.
// Boost.JSON would write it as `Infinity`, which no client's JSON.parse accepts.
std::optional<std::string> first_non_finite(const boost::json::value& v, std::string path) {
    if (v.is_double()) {
        return std::isfinite(v.get_double()) ? std::nullopt : std::optional(path);
    }
    if (const auto* a = v.if_array()) {
        for (std::size_t i = 0; i < a->size(); ++i) {
            if (auto bad = first_non_finite((*a)[i], path + "[" + std::to_string(i) + "]")) {
                return bad;
            }
        }
    } else if (const auto* o = v.if_object()) {
        for (const auto& member : *o) {
            if (auto bad =
                    first_non_finite(member.value(), path + "." + std::string(member.key()))) {
                return bad;
            }
        }
    }
    return std::nullopt;
}

result<std::string> serialize_message(const boost::json::value& message, std::size_t limit) {
    if (auto bad = first_non_finite(message, "message")) {
        return make_error(errc::bad_request,
                          "a number is too large for JSON (it would be written as Infinity)", *bad);
    }
    auto data = boost::json::serialize(message);
    if (data.size() > limit) {
        return make_error(errc::payload_too_large,
                          "the message has " + std::to_string(data.size()) +
                              " bytes of JSON, over the limit of " + std::to_string(limit) +
                              " (limits.message)",
                          "message");
    }
    return data;
}

} // namespace

result<session_result> hub::register_session(const namespace_id& ns, std::string_view id,
                                             boost::json::value disconnected) {
    auto& d = *impl_;
    if (auto r = check_namespace(ns, d.opts.id_length); !r) {
        return r.error();
    }
    if (auto r = core::check_id(id, d.opts.id_length, "id"); !r) {
        return r.error();
    }

    std::lock_guard lock(d.mu);
    auto s = d.session_for(d.ns_for(ns), id);
    if (!s) {
        d.drop_ns_if_empty(d.ns_for(ns));
        return s.error();
    }
    if (!disconnected.is_null()) {
        (*s)->actions = std::move(disconnected);
    }

    session_result out;
    out.id = (*s)->id;
    out.connected = (*s)->token != 0;
    if (const auto newest = (*s)->log.newest(); newest != 0) {
        out.last_event_id = d.codec.format(newest);
    }
    return out;
}

result<channel_result> hub::register_channel(const namespace_id& ns, std::string_view id,
                                             std::optional<std::string_view> session,
                                             boost::json::value disconnected) {
    auto& d = *impl_;
    if (auto r = check_namespace(ns, d.opts.id_length); !r) {
        return r.error();
    }
    if (auto r = core::check_id(id, d.opts.id_length, "id", true); !r) {
        return r.error();
    }
    if (session) {
        if (auto r = core::check_id(*session, d.opts.id_length, "session.id"); !r) {
            return r.error();
        }
    }

    std::lock_guard lock(d.mu);
    auto& nss = d.ns_for(ns);
    session_state* member = nullptr;
    if (session) {
        auto s = d.session_for(nss, *session);
        if (!s) {
            d.drop_ns_if_empty(nss);
            return s.error();
        }
        member = *s;
    }

    const bool existed = nss.channels.contains(id);
    auto& ch = d.channel_for(nss, id);
    if (member != nullptr && !impl::is_member(*member, ch)) {
        if (d.named_channel_count(*member) >= d.opts.channels_per_session) {
            d.drop_created(ch, existed);
            return make_error(errc::limit_exceeded,
                              "session '" + member->id + "' is already in " +
                                  std::to_string(d.opts.channels_per_session) +
                                  " channels (limits.channels_per_session)",
                              "session");
        }
        d.add_member(*member, ch);
    }
    if (!disconnected.is_null()) {
        ch.actions = std::move(disconnected);
    }
    return channel_result{ch.id, ch.members.size()};
}

result<publish_result> hub::push(const namespace_id& ns, std::string_view session,
                                 const boost::json::value& message, std::string_view event) {
    auto& d = *impl_;
    if (auto r = check_namespace(ns, d.opts.id_length); !r) {
        return r.error();
    }
    if (auto r = core::check_id(session, d.opts.id_length, "id"); !r) {
        return r.error();
    }
    if (auto r = core::check_event_name(event, d.opts.event_length, "event"); !r) {
        return r.error();
    }
    auto data = serialize_message(message, d.opts.message_limit);
    if (!data) {
        return data.error();
    }

    std::lock_guard lock(d.mu);
    auto* s = impl::find_session(d.find_ns(ns), session);
    publish_result out;
    if (s == nullptr) {
        out.warning = "no session '" + std::string(session) + "' in namespace " + to_string(ns);
        return out;
    }

    auto ev = d.make_event(event, *data);
    out.event_id = d.codec.format(ev->seq);
    if (s->token != 0) {
        d.shard_of(s->token).submit_deliver(s->token, ev);
        out.delivered = 1;
        d.stats.deliveries.fetch_add(1, std::memory_order_relaxed);
    }
    s->log.push(std::move(ev), d.session_limits());
    d.enforce_budget();
    out.sessions = 1;
    return out;
}

result<publish_result> hub::broadcast(const namespace_id& ns, std::string_view channel,
                                      const boost::json::value& message, std::string_view event) {
    auto& d = *impl_;
    if (auto r = check_namespace(ns, d.opts.id_length); !r) {
        return r.error();
    }
    if (auto r = core::check_id(channel, d.opts.id_length, "id", true); !r) {
        return r.error();
    }
    if (auto r = core::check_event_name(event, d.opts.event_length, "event"); !r) {
        return r.error();
    }
    auto data = serialize_message(message, d.opts.message_limit);
    if (!data) {
        return data.error();
    }

    // Channels are created on demand: an event sent to a channel nobody follows yet is kept
    // in its history, so a client that subscribes right after and resumes still gets it.
    std::lock_guard lock(d.mu);
    auto* ch = &d.channel_for(d.ns_for(ns), channel);
    publish_result out;

    auto ev = d.make_event(event, *data);
    impl::touch_if_empty(*ch);
    out.event_id = d.codec.format(ev->seq);
    out.sessions = ch->members.size();
    out.delivered = ch->connected;
    if (ch->connected > 0) {
        for (auto& sh : d.shards) {
            sh->submit_deliver_channel(ch->uid, ev);
        }
        d.stats.deliveries.fetch_add(ch->connected, std::memory_order_relaxed);
    }
    ch->log.push(std::move(ev), d.channel_limits());
    d.enforce_budget();
    return out;
}

result<channel_result> hub::join(const namespace_id& ns, std::string_view channel,
                                 std::string_view session) {
    auto& d = *impl_;
    if (auto r = core::check_id(channel, d.opts.id_length, "channel"); !r) {
        return r.error();
    }
    if (auto r = core::check_id(session, d.opts.id_length, "session"); !r) {
        return r.error();
    }

    std::lock_guard lock(d.mu);
    auto* nss = d.find_ns(ns);
    auto* s = impl::find_session(nss, session);
    if (s == nullptr) {
        return make_error(errc::not_found, "no session '" + std::string(session) + "'", "session");
    }
    const bool existed = nss->channels.contains(channel);
    auto& ch = d.channel_for(*nss, channel);
    if (!impl::is_member(*s, ch)) {
        if (d.named_channel_count(*s) >= d.opts.channels_per_session) {
            d.drop_created(ch, existed);
            return make_error(errc::limit_exceeded,
                              "session '" + s->id + "' is already in " +
                                  std::to_string(d.opts.channels_per_session) +
                                  " channels (limits.channels_per_session)",
                              "channel");
        }
        d.add_member(*s, ch);
    }
    return channel_result{ch.id, ch.members.size()};
}

result<channel_result> hub::leave(const namespace_id& ns, std::string_view channel,
                                  std::string_view session) {
    auto& d = *impl_;
    if (auto r = core::check_id(channel, d.opts.id_length, "channel"); !r) {
        return r.error();
    }
    if (auto r = core::check_id(session, d.opts.id_length, "session"); !r) {
        return r.error();
    }

    std::lock_guard lock(d.mu);
    auto* nss = d.find_ns(ns);
    auto* s = impl::find_session(nss, session);
    if (s == nullptr) {
        return make_error(errc::not_found, "no session '" + std::string(session) + "'", "session");
    }
    auto it = nss->channels.find(channel);
    if (it == nss->channels.end() || !impl::is_member(*s, *it->second)) {
        return make_error(
            errc::not_found,
            "session '" + s->id + "' is not in channel '" + std::string(channel) + "'", "channel");
    }
    auto& ch = *it->second;
    channel_result out{ch.id, ch.members.size() - 1};
    d.remove_member(*s, ch); // may destroy the channel
    return out;
}

result<void> hub::kick(const namespace_id& ns, std::string_view session) {
    auto& d = *impl_;
    std::optional<ended_session> ended;
    {
        std::lock_guard lock(d.mu);
        auto* s = impl::find_session(d.find_ns(ns), session);
        if (s == nullptr) {
            return make_error(errc::not_found, "no session '" + std::string(session) + "'", "id");
        }

        // A connected session loses its connection and, like any dropped one, keeps its
        // grace: the client may come back and resume (F18). Without a connection, or
        // without grace, it ends now.
        if (s->token != 0 && d.opts.session_grace.count() > 0 && !d.stopping) {
            d.shard_of(s->token).submit_close(s->token, end_reason::kicked);
            d.attachments.erase(s->token);
            d.clear_attachment(*s);
            s->drop_reason = end_reason::kicked;
            d.start_grace(*s);
            return {};
        }
        ended = d.end_session(*s, end_reason::kicked);
    }
    d.report(std::move(*ended));
    return {};
}

std::vector<session_info> hub::sessions(const namespace_id& ns) const {
    auto& d = *impl_;
    std::lock_guard lock(d.mu);
    std::vector<session_info> out;
    auto* nss = d.find_ns(ns);
    if (nss == nullptr) {
        return out;
    }
    out.reserve(nss->sessions.size());
    for (const auto& [id, s] : nss->sessions) {
        session_info info{s->id, ns, s->token != 0, {}, s->remote};
        for (auto* ch : s->channels) {
            if (!ch->id.empty()) {
                info.channels.push_back(ch->id);
            }
        }
        out.push_back(std::move(info));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
}

namespace {

channel_info describe(const channel_state& ch) {
    channel_info info{ch.id, {}, ch.connected};
    info.sessions.reserve(ch.members.size());
    for (auto* s : ch.members) {
        info.sessions.push_back(s->id);
    }
    std::sort(info.sessions.begin(), info.sessions.end());
    return info;
}

} // namespace

std::vector<channel_info> hub::channels(const namespace_id& ns) const {
    auto& d = *impl_;
    std::lock_guard lock(d.mu);
    std::vector<channel_info> out;
    auto* nss = d.find_ns(ns);
    if (nss == nullptr) {
        return out;
    }
    for (const auto& [id, ch] : nss->channels) {
        out.push_back(describe(*ch));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
}

result<channel_info> hub::channel(const namespace_id& ns, std::string_view id) const {
    auto& d = *impl_;
    std::lock_guard lock(d.mu);
    auto* nss = d.find_ns(ns);
    if (nss != nullptr) {
        auto it = nss->channels.find(id);
        if (it != nss->channels.end()) {
            return describe(*it->second);
        }
    }
    return make_error(errc::not_found, "no channel '" + std::string(id) + "'", "id");
}

result<attachment> hub::attach(const subscribe_request& req, std::shared_ptr<sink> target,
                               std::size_t shard_index) {
    auto& d = *impl_;
    if (shard_index >= d.shards.size()) {
        return make_error(errc::internal, "attach names a shard the hub does not have");
    }
    if (auto r = check_namespace(req.ns, d.opts.id_length); !r) {
        return r.error();
    }
    if (req.session) {
        if (auto r = core::check_id(*req.session, d.opts.id_length, "session"); !r) {
            return r.error();
        }
    }
    std::vector<std::string_view> wanted;
    for (const auto& c : req.channels) {
        if (auto r = core::check_id(c, d.opts.id_length, "channel", true); !r) {
            return r.error();
        }
        if (!c.empty() && std::find(wanted.begin(), wanted.end(), c) == wanted.end()) {
            wanted.push_back(c);
        }
    }
    if (wanted.size() > d.opts.channels_per_session) {
        return make_error(
            errc::limit_exceeded,
            std::to_string(wanted.size()) + " channels asked for, over the limit of " +
                std::to_string(d.opts.channels_per_session) + " (limits.channels_per_session)",
            "channel");
    }
    std::optional<core::event_id_codec::parsed> resume;
    if (req.last_event_id && !req.last_event_id->empty()) {
        resume = d.codec.parse(*req.last_event_id);
    }

    attachment out;
    std::lock_guard lock(d.mu);
    if (d.stopping) {
        return make_error(errc::unavailable, "the hub is shutting down");
    }
    auto& nss = d.ns_for(req.ns);
    auto* existing = req.session ? impl::find_session(&nss, *req.session) : nullptr;

    // Count the channels the session would follow before changing anything.
    std::size_t added = 0;
    for (auto c : wanted) {
        auto it = nss.channels.find(c);
        if (existing == nullptr || it == nss.channels.end() ||
            !impl::is_member(*existing, *it->second)) {
            ++added;
        }
    }
    const std::size_t before = existing == nullptr ? 0 : d.named_channel_count(*existing);
    if (before + added > d.opts.channels_per_session) {
        d.drop_ns_if_empty(nss);
        return make_error(errc::limit_exceeded,
                          "the session would follow " + std::to_string(before + added) +
                              " channels, over the limit of " +
                              std::to_string(d.opts.channels_per_session) +
                              " (limits.channels_per_session)",
                          "channel");
    }

    session_state* s = existing;
    if (s == nullptr) {
        out.generated_id = !req.session;
        auto created = d.session_for(nss, req.session ? *req.session : random_session_id());
        if (!created) {
            d.drop_ns_if_empty(nss);
            return created.error();
        }
        s = *created;
    }

    // A reconnect with the same id replaces the old connection (fix 2); the old sink's later
    // report carries a token that is no longer current and changes nothing.
    if (s->token != 0) {
        d.shard_of(s->token).submit_close(s->token, end_reason::replaced);
        d.attachments.erase(s->token);
        d.clear_attachment(*s);
        d.stats.replacements.fetch_add(1, std::memory_order_relaxed);
        core::logger("core")->debug("connection replaced session={} namespace={} remote={}", s->id,
                                    to_string(req.ns), req.remote);
    }

    for (auto c : wanted) {
        auto& ch = d.channel_for(nss, c);
        if (!impl::is_member(*s, ch)) {
            d.add_member(*s, ch);
        }
    }

    const auto token = (++d.next_attach << shard_bits) | shard_index;
    s->token = token;
    s->remote = req.remote;
    s->claims = req.claims;
    s->connected_at = clock::now();
    ++s->grace_generation;
    d.attachments.emplace(token, s);
    d.stats.connections.fetch_add(1, std::memory_order_relaxed);

    std::vector<std::uint64_t> uids;
    uids.reserve(s->channels.size());
    for (auto* ch : s->channels) {
        ++ch->connected;
        uids.push_back(ch->uid);
    }

    // Replay what the connection missed from every stream it follows, in sequence order.
    // Taken under the lock that orders publishes, so nothing is lost or sent twice. A
    // stream that lost events after the cursor, or a cursor the hub cannot place, is
    // named in a `gap` event sent first.
    std::vector<event_ptr> replay;
    if (resume) {
        const bool placed = resume->state == core::event_id_codec::status::ok;
        const std::uint64_t from = placed ? resume->seq : 0;
        boost::json::array lost;
        if (!s->log.collect_after(from, replay) || !placed) {
            lost.push_back(boost::json::object{{"type", "session"}, {"id", s->id}});
        }
        for (auto* ch : s->channels) {
            if (!ch->log.collect_after(from, replay) || !placed) {
                lost.push_back(boost::json::object{{"type", "channel"}, {"id", ch->id}});
            }
        }
        std::sort(replay.begin(), replay.end(),
                  [](const event_ptr& a, const event_ptr& b) { return a->seq < b->seq; });
        if (!lost.empty()) {
            const char* why = resume->state == core::event_id_codec::status::other_epoch
                                  ? "restarted"
                              : placed ? "expired"
                                       : "unreadable";
            auto gap = std::make_shared<event>();
            gap->seq = from;
            gap->at = clock::now();
            gap->bytes = core::encode_event(
                "gap", d.codec.format(from),
                boost::json::serialize(boost::json::object{{"reason", why}, {"streams", lost}}));
            replay.insert(replay.begin(), std::move(gap));
            d.stats.gaps.fetch_add(1, std::memory_order_relaxed);
        }
    }

    d.shards[shard_index]->submit_add(token, std::move(target), std::move(uids), std::move(replay));

    out.session = s->id;
    out.token = token;
    out.cursor = d.position();
    out.resumed = resume.has_value();
    return out;
}

void hub::detached(std::uint64_t token, end_reason why) {
    auto& d = *impl_;
    d.shard_of(token).remove(token); // on the sink's own thread

    std::optional<ended_session> ended;
    {
        std::lock_guard lock(d.mu);
        auto it = d.attachments.find(token);
        if (it == d.attachments.end()) {
            return;
        }
        auto* s = it->second;
        d.attachments.erase(it);
        d.clear_attachment(*s);
        if (d.opts.session_grace.count() > 0 && !d.stopping) {
            s->drop_reason = why;
            d.start_grace(*s);
            return;
        }
        ended = d.end_session(*s, why);
    }
    d.report(std::move(*ended));
}

void hub::shutdown() {
    auto& d = *impl_;
    std::vector<ended_session> ended;
    {
        std::lock_guard lock(d.mu);
        d.stopping = true;
        std::vector<session_state*> all;
        for (auto& [id, ns] : d.namespaces) {
            for (auto& [sid, s] : ns->sessions) {
                all.push_back(s.get());
            }
        }
        for (auto* s : all) {
            ended.push_back(d.end_session(*s, end_reason::shutdown));
        }
    }
    for (auto& e : ended) {
        d.report(std::move(e));
    }
}

void hub::sweep() {
    auto& d = *impl_;
    std::lock_guard lock(d.mu);
    const auto now = clock::now();
    std::vector<namespace_state*> spaces;
    for (auto& [id, ns] : d.namespaces) {
        spaces.push_back(ns.get());
    }
    for (auto* ns : spaces) {
        for (auto& [id, s] : ns->sessions) {
            s->log.expire(now, d.session_limits());
        }
        std::erase_if(ns->channels, [&](auto& entry) {
            entry.second->log.expire(now, d.channel_limits());
            if (!d.expired(*entry.second, now)) {
                return false;
            }
            d.stats.channels.fetch_sub(1, std::memory_order_relaxed);
            return true;
        });
        d.drop_ns_if_empty(*ns);
    }
    std::erase_if(d.ended_streams,
                  [&](const auto& kv) { return now - kv.second.at > d.opts.session_history_age; });
    d.enforce_budget();
}

} // namespace ssehub
