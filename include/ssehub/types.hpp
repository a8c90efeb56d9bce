// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace ssehub {

using clock = std::chrono::steady_clock;

/// Sessions and channels of different namespaces never see each other. `tenant` is empty
/// unless authentication names one.
struct namespace_id {
    std::string tenant;
    std::string digipair;
    std::string reasoning;

    bool operator==(const namespace_id&) const = default;
};

/// `[tenant:]digipair/reasoning`, or `default` for the default namespace; for logs and messages.
std::string to_string(const namespace_id& ns);

struct namespace_hash {
    std::size_t operator()(const namespace_id& ns) const noexcept;
};

/// Why a connection or a session ended; the name is `{{reason}}` in actions.
enum class end_reason {
    client_closed, ///< the client closed or reset its connection
    kicked,        ///< DELETE /api/v1/sessions/{id} or the `close` action
    replaced,      ///< a newer connection took the session id (the session goes on)
    slow_consumer, ///< the outbound limit was passed
    dead_peer,     ///< a write made no progress within the write timeout
    shutdown,      ///< the hub is stopping
};

std::string_view to_string(end_reason r);

/// One accepted event, encoded once into its final bytes and shared, immutable, by every
/// history ring and every connection queue that holds it.
struct event {
    std::uint64_t seq = 0; ///< position in the hub-wide sequence
    clock::time_point at;  ///< when the hub accepted it, for history ageing
    std::string bytes;     ///< `event:..\nid:..\ndata:..\n\n`
};

using event_ptr = std::shared_ptr<const event>;

/// Where the hub delivers a session's events: an SSE connection of the HTTP layer, or a
/// user's own connection when the hub is embedded. Every member function is called on the
/// sink's shard thread only (the io_context it was attached from), never concurrently.
class sink {
public:
    sink() = default;
    sink(const sink&) = delete;
    sink& operator=(const sink&) = delete;
    virtual ~sink() = default;

    /// The hub registered the sink on its shard: from now on it receives events, and it
    /// may end on its own (reporting hub::detached()). Events of a replay, if any, follow
    /// at once. Must not call back into the hub.
    virtual void opened() = 0;

    /// Queues one event. Must not call back into the hub.
    virtual void deliver(const event_ptr& e) = 0;

    /// Ends a batch of deliver() calls on this thread: the moment to start a write.
    virtual void flush() = 0;

    /// The hub ends this connection (replaced, kicked, shutdown). The sink closes after
    /// writing what it has queued, then reports hub::detached() like any other ending.
    virtual void close(end_reason why) = 0;
};

} // namespace ssehub
