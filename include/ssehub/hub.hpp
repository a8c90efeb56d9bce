// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <ssehub/error.hpp>
#include <ssehub/types.hpp>
#include <string>
#include <vector>

namespace ssehub {

/// The hub's tunables; the names match the configuration keys of DESIGN.md section 9.
struct hub_options {
    std::chrono::milliseconds session_grace{10'000};
    std::size_t session_history_events = 100;
    std::chrono::milliseconds session_history_age{120'000};
    std::size_t channel_history_events = 1000;
    std::chrono::milliseconds channel_history_age{300'000};
    std::size_t history_max_bytes = 256u << 20;
    std::size_t message_limit = 1u << 20;
    std::size_t id_length = 128;
    std::size_t event_length = 64;
    std::size_t channels_per_session = 64;
    std::size_t sessions_per_namespace = 100'000;
    std::size_t sessions_per_tenant = 0; ///< every namespace of one tenant together; 0: off
};

struct session_result {
    std::string id;
    bool connected = false;
    std::optional<std::string> last_event_id; ///< the newest event of the session's stream
};

struct channel_result {
    std::string id;
    std::size_t sessions = 0; ///< members after the call
};

struct publish_result {
    std::size_t delivered = 0;           ///< connected recipients the event was queued for
    std::optional<std::string> event_id; ///< absent when nothing accepted it
    std::size_t sessions = 0;            ///< broadcast: members of the channel
    std::string warning;                 ///< set when the target is unknown
};

struct session_info {
    std::string id;
    namespace_id ns;
    bool connected = false;
    std::vector<std::string> channels; ///< named channels, without the default `""`
    std::string remote;                ///< address of the connected client, if any
};

struct channel_info {
    std::string id;
    std::vector<std::string> sessions;
    std::size_t connected = 0;
};

/// What a stream asks for when it opens.
struct subscribe_request {
    namespace_id ns;
    std::optional<std::string> session; ///< generated when absent
    std::vector<std::string> channels;
    std::optional<std::string> last_event_id;
    std::string remote;
    boost::json::value claims = nullptr; ///< the subscriber's verified JWT claims; null without one
};

/// A stream the hub accepted. `token` names this attachment in hub::detached().
struct attachment {
    std::string session;
    bool generated_id = false;
    std::uint64_t token = 0;
    std::string cursor;   ///< event id of the hub's current position, for the announcement
    bool resumed = false; ///< the request named a resume point (Last-Event-ID)
};

/// A session that ended, with what its actions need. Handed to the end handler after the
/// hub has forgotten the session.
struct ended_session {
    namespace_id ns;
    std::string id;
    end_reason reason = end_reason::client_closed;
    boost::json::value actions; ///< the session's `disconnected` pins (null when none)

    struct channel_actions {
        std::string id;
        boost::json::value actions;
    };

    std::vector<std::string> channels;        ///< named channels it was in
    std::vector<channel_actions> channel_end; ///< channels with `disconnected` pins
    std::chrono::milliseconds connected_for{0};
    std::string remote;
    boost::json::value claims = nullptr; ///< verified JWT claims of its last connection
};

/// Counters read by /metrics. Relaxed atomics: exact totals, no ordering promises.
struct hub_stats {
    std::atomic<std::uint64_t> events_published{0};
    std::atomic<std::uint64_t> deliveries{0};
    std::atomic<std::uint64_t> sessions_ended{0};
    std::atomic<std::uint64_t> replacements{0};
    std::atomic<std::uint64_t> gaps{0};              ///< resumes told that events were lost
    std::atomic<std::uint64_t> history_evictions{0}; ///< events dropped by history.max_bytes
    std::atomic<std::uint64_t> history_bytes{0};     ///< history held, as history.max_bytes counts
    std::atomic<std::int64_t> connections{0};
    std::atomic<std::int64_t> sessions{0};
    std::atomic<std::int64_t> channels{0};
};

/// The sessions, channels and streams of one node.
///
/// Thread model: the hub's registry is guarded by one mutex, taken once per call. A
/// delivery never walks recipients under it: a publish assigns the event its position,
/// encodes it once and posts one task per shard (io_context); each shard walks its local
/// members and hands the shared buffer to each sink. Calls may come from any thread;
/// attach() must be called on the io_context of the shard it names.
class hub {
public:
    using end_handler = std::function<void(ended_session)>;

    /// `shards` are the worker io_contexts; they must outlive the hub.
    hub(hub_options options, std::vector<boost::asio::io_context*> shards);
    ~hub();
    hub(const hub&) = delete;
    hub& operator=(const hub&) = delete;

    /// Called once per ended session, off the hub's lock, on the thread that ended it.
    /// Set before traffic starts.
    void set_end_handler(end_handler handler);

    result<session_result> register_session(const namespace_id& ns, std::string_view id,
                                            boost::json::value disconnected = nullptr);

    /// Creates the channel if missing; adds `session` when given (it must exist).
    result<channel_result> register_channel(const namespace_id& ns, std::string_view id,
                                            std::optional<std::string_view> session,
                                            boost::json::value disconnected = nullptr);

    result<publish_result> push(const namespace_id& ns, std::string_view session,
                                const boost::json::value& message,
                                std::string_view event = "message");

    result<publish_result> broadcast(const namespace_id& ns, std::string_view channel,
                                     const boost::json::value& message,
                                     std::string_view event = "message");

    /// Membership. Both fail with not_found when the session is unknown; leave() also when
    /// it is not a member.
    result<channel_result> join(const namespace_id& ns, std::string_view channel,
                                std::string_view session);
    result<channel_result> leave(const namespace_id& ns, std::string_view channel,
                                 std::string_view session);

    /// Disconnects the session (reason kicked). A connected session with a grace keeps it,
    /// like any dropped one, and may be resumed; otherwise it ends now and its actions run.
    result<void> kick(const namespace_id& ns, std::string_view session);

    std::vector<session_info> sessions(const namespace_id& ns) const;
    std::vector<channel_info> channels(const namespace_id& ns) const;
    result<channel_info> channel(const namespace_id& ns, std::string_view id) const;

    /// Opens a stream for `target`, which lives on shard `shard`. Fails, changing nothing,
    /// when the request breaks a limit or names an invalid id. On success the hub posts the
    /// sink's registration to its shard, so deliveries start after the caller returns.
    result<attachment> attach(const subscribe_request& request, std::shared_ptr<sink> target,
                              std::size_t shard);

    /// A sink reports that it stopped (for any reason, including after close()). Called on
    /// the sink's shard thread, exactly once per attach.
    void detached(std::uint64_t token, end_reason why);

    /// Closes every stream (reason shutdown) and ends every session. Returns at once; the
    /// sinks drain and close on their shards.
    void shutdown();

    /// Drops history past its age and channels left empty; the server calls it periodically.
    void sweep();

    const hub_options& options() const noexcept;
    const hub_stats& stats() const noexcept;
    std::size_t shard_count() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace ssehub
