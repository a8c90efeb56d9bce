// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "http/connection_limiter.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <ssehub/hub.hpp>
#include <ssehub/types.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace ssehub::http {

class worker;

/// What every stream of a server shares.
struct stream_settings {
    std::chrono::milliseconds keepalive{10'000};
    std::chrono::milliseconds write_timeout{30'000};
    std::chrono::milliseconds retry{2'000};
    std::size_t outbound_limit = 4u << 20;
};

/// One open event stream: the socket, once the request is read, and the events queued for
/// it. Nothing of the request (buffers, parser) is kept. Lives on its worker's thread;
/// every member function runs there.
///
/// Lifetime: shared by the hub's shard (until the hub forgets it), the worker's list (until
/// it finishes) and its own pending operations. It reports hub::detached() exactly once,
/// and never from inside a sink call (the report is posted), so the shard's walk is safe.
class sse_connection final : public sink, public std::enable_shared_from_this<sse_connection> {
public:
    sse_connection(worker& owner, hub& h, std::string remote);
    ~sse_connection() override;

    /// Takes the socket and queues the response head, `retry:` and, for a generated session
    /// id, the event that announces it. The first write starts at once.
    void start(boost::asio::ip::tcp::socket socket, connection_limiter::slot slot,
               const attachment& a, bool chunked, std::string extra_headers);

    void opened() override;
    void deliver(const event_ptr& e) override;
    void flush() override;
    void close(end_reason why) override;

    /// Called by the worker's timer: sends a keep-alive on a quiet stream and ends a
    /// connection whose write made no progress within the write timeout.
    void tick(clock::time_point now);

    const std::string& remote() const noexcept { return remote_; }

    const std::string& session() const noexcept { return session_; }

    std::size_t worker_slot = 0; ///< position in the worker's list, kept by the worker

private:
    struct item {
        event_ptr owner;        ///< keeps `bytes` alive; null for the connection's own bytes
        std::string_view bytes; ///< what goes on the wire (inside the chunk)
    };

    void queue_bytes(std::string_view bytes, event_ptr owner);
    void check_backlog();
    void start_write();
    void write_more();
    void on_writable(const boost::system::error_code& ec);
    void write_failed(const boost::system::error_code& ec);
    void advance(std::size_t n);
    void batch_written();
    void watch_reads();
    void on_readable(const boost::system::error_code& ec);
    /// The kernel gave up on the peer (TCP keep-alive or TCP_USER_TIMEOUT): a dead peer.
    void peer_timed_out();
    void finish(end_reason why);

    worker& worker_;
    hub& hub_;
    boost::asio::ip::tcp::socket socket_;
    connection_limiter::slot slot_;
    std::string remote_;
    std::string session_;
    std::uint64_t token_ = 0;

    // The connection's own bytes; each is written once, then freed.
    std::string head_;         ///< response head, outside the chunked framing
    std::string intro_;        ///< `retry:` and, for a generated id, its announcement
    std::string tail_;         ///< the final `retry:` hint when the hub closes the stream
    std::vector<item> queue_;  ///< waiting for the next write
    std::vector<item> flight_; ///< in the write under way
    std::vector<boost::asio::const_buffer> buffers_;
    std::size_t buffer_index_ = 0; ///< first buffer of `buffers_` not fully written
    std::size_t queued_bytes_ = 0; ///< bytes of queue_
    std::size_t flight_left_ = 0;  ///< bytes of buffers_ the kernel has not taken yet
    std::size_t replay_left_ = 0;  ///< replayed bytes not written yet, exempt from the limit
    char chunk_head_[20] = {};

    clock::time_point last_write_{};
    clock::time_point last_progress_{};
    end_reason close_reason_ = end_reason::client_closed;
    bool chunked_ = true;
    bool writing_ = false;
    bool started_ = false;
    bool opened_ = false;
    bool replaying_ = false; ///< from opened() to the first flush(): deliveries are a replay
    bool closing_ = false;   ///< the hub asked us to close once the queue is written
    bool finished_ = false;
    bool reported_ = false;
    end_reason finish_reason_ = end_reason::client_closed;
};

} // namespace ssehub::http
