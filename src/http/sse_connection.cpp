// SPDX-License-Identifier: Apache-2.0
#include "http/sse_connection.hpp"

#include "core/encoder.hpp"
#include "core/log.hpp"
#include "http/worker.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <charconv>
#include <cstdio>
#include <limits>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <random>
#include <span>
#include <sys/socket.h>

namespace ssehub::http {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

constexpr std::string_view chunk_end = "\r\n";
constexpr std::string_view last_chunk = "0\r\n\r\n";

// The hint sent when the hub closes a stream: the configured retry, spread by up to +50 %,
// so that clients of a hub that stops do not all come back in the same instant.
long long spread_retry(std::chrono::milliseconds base) {
    thread_local std::minstd_rand spread{std::random_device{}()};
    const auto ms = base.count();
    std::uniform_int_distribution<long long> extra(0, ms / 2);
    return ms + extra(spread);
}

// TCP keep-alive probes an idle peer, and TCP_USER_TIMEOUT bounds how long sent data may
// stay unacknowledged: together they end a half-open stream (a peer that vanished without a
// FIN) within twice the write timeout, even while the kernel still takes our small writes.
// Twice, so that a peer that is there but does not read meets the write timeout first.
void watch_peer(asio::ip::tcp::socket& socket, const stream_settings& s) {
    const int fd = socket.native_handle();
    const int on = 1;
    const int idle_s = static_cast<int>(std::max<long long>(1, s.keepalive.count() / 1000));
    const int interval_s = std::max(1, idle_s / 3);
    const int probes = 3;
    const auto timeout_ms = static_cast<unsigned>(
        std::min<long long>(2 * s.write_timeout.count(), std::numeric_limits<int>::max()));
    ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval_s, sizeof interval_s);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes);
    ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout_ms, sizeof timeout_ms);
}

} // namespace

sse_connection::sse_connection(worker& owner, hub& h, std::string remote)
    : worker_(owner), hub_(h), socket_(owner.context()), remote_(std::move(remote)) {}

sse_connection::~sse_connection() {
    worker_.remove(*this);
    if (started_ && !finished_) {
        worker_.stats().open_streams.fetch_sub(1, std::memory_order_relaxed);
    }
}

void sse_connection::start(asio::ip::tcp::socket socket, connection_limiter::slot slot,
                           const attachment& a, bool chunked, std::string extra_headers) {
    socket_ = std::move(socket);
    slot_ = std::move(slot);
    error_code ignored;
    socket_.non_blocking(true, ignored); // on_readable() drains without blocking
    watch_peer(socket_, worker_.settings());
    session_ = a.session;
    token_ = a.token;
    chunked_ = chunked;

    head_ = "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/event-stream\r\n"
            "Cache-Control: private, no-cache, no-store, no-transform, must-revalidate, "
            "max-age=0\r\n"
            "Pragma: no-cache\r\n"
            "X-Accel-Buffering: no\r\n";

    // HTTP/1.1 frames the endless body in chunks and keeps the connection, as the skill's
    // headers say; an HTTP/1.0 client gets a body that ends when the connection closes.
    if (chunked_) {
        head_ += "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n";
    } else {
        head_ += "Connection: close\r\n";
    }
    head_ += extra_headers;
    head_ += "\r\n";

    intro_ = core::encode_retry(worker_.settings().retry.count());
    if (a.generated_id) {
        const auto data =
            "{\"session\":" + boost::json::serialize(boost::json::string(a.session)) + "}";
        intro_ += core::encode_event("session", a.cursor, data);
    } else if (!a.resumed) {
        // A fresh stream learns where it starts: cut before its first event, the client
        // comes back with this id and gets what was published meanwhile, instead of
        // nothing. A resumed stream keeps the id it sent until its replay arrives.
        intro_ += core::encode_cursor(a.cursor);
    }

    const auto now = clock::now();
    last_write_ = now;
    last_progress_ = now;
    worker_.add(*this);
    worker_.stats().open_streams.fetch_add(1, std::memory_order_relaxed);
    started_ = true;
    queue_bytes(intro_, nullptr);
    start_write();
}

void sse_connection::opened() {
    opened_ = true;
    replaying_ = true;
    if (finished_) {
        // It ended before the hub registered it; report now that the hub can hear it.
        finish(finish_reason_);
        return;
    }
    watch_reads();
}

void sse_connection::deliver(const event_ptr& e) {
    if (finished_ || closing_) {
        return;
    }
    queue_bytes(e->bytes, e);
    if (replaying_) {
        replay_left_ += e->bytes.size();
    }

    // While the kernel takes nothing more, every event adds to the backlog: check it now.
    // Otherwise flush() writes first and checks what the kernel left.
    if (writing_) {
        check_backlog();
    }
}

void sse_connection::flush() {
    if (!writing_ && !finished_ && !queue_.empty()) {
        start_write();
    }
    replaying_ = false;
    check_backlog();
}

void sse_connection::check_backlog() {
    // Past the outbound limit the client is too slow: close now and let it resume from its
    // last complete event. An event cut by the close lacks its blank line, so no parser
    // dispatches it. A replay is history the hub holds anyway and the client asked for: it
    // does not count, or a resume after a long absence could never succeed.
    const std::size_t unsent = queued_bytes_ + flight_left_;
    const std::size_t backlog = unsent - std::min(replay_left_, unsent);
    if (finished_ || backlog <= worker_.settings().outbound_limit) {
        return;
    }
    core::logger("http")->warn("slow consumer disconnected session={} remote={} queued={}",
                               session_, remote_, backlog);
    worker_.stats().slow_consumer_disconnects.fetch_add(1, std::memory_order_relaxed);
    finish(end_reason::slow_consumer);
}

void sse_connection::close(end_reason why) {
    if (finished_ || closing_) {
        return;
    }

    // A replaced connection's client has moved to its new one: what is still queued here
    // would only hold a stalled socket open until the write timeout (F24).
    if (why == end_reason::replaced) {
        finish(why);
        return;
    }
    closing_ = true;
    close_reason_ = why;
    tail_ = core::encode_retry(spread_retry(worker_.settings().retry));
    queue_bytes(tail_, nullptr);
    if (!writing_) {
        start_write();
    }
}

void sse_connection::tick(clock::time_point now) {
    if (finished_) {
        return;
    }
    const auto& s = worker_.settings();
    if (writing_) {
        if (now - last_progress_ >= s.write_timeout) {
            core::logger("http")->warn("write timed out session={} remote={} queued={}", session_,
                                       remote_, queued_bytes_ + flight_left_);
            worker_.stats().write_timeouts.fetch_add(1, std::memory_order_relaxed);
            finish(end_reason::dead_peer);
        }
        return;
    }
    if (now - last_write_ >= s.keepalive && !closing_) {
        queue_bytes(core::keepalive_frame, nullptr);
        start_write();
    }
}

void sse_connection::queue_bytes(std::string_view bytes, event_ptr owner) {
    queued_bytes_ += bytes.size();
    queue_.push_back({std::move(owner), bytes});
}

void sse_connection::start_write() {
    if (writing_ || finished_) {
        return;
    }
    if (queue_.empty()) {
        if (closing_) {
            finish(close_reason_);
        }
        return;
    }

    flight_.swap(queue_);
    queued_bytes_ = 0;
    buffers_.clear();
    if (!head_.empty()) {
        buffers_.emplace_back(head_.data(), head_.size());
    }

    std::size_t body = 0;
    for (const auto& it : flight_) {
        body += it.bytes.size();
    }
    if (chunked_) {
        // The chunk size in hex; to_chars, not snprintf, since this runs for every write.
        char* end = std::to_chars(chunk_head_, chunk_head_ + sizeof chunk_head_ - 2, body, 16).ptr;
        *end++ = '\r';
        *end++ = '\n';
        buffers_.emplace_back(chunk_head_, static_cast<std::size_t>(end - chunk_head_));
    }
    for (const auto& it : flight_) {
        buffers_.emplace_back(it.bytes.data(), it.bytes.size());
    }
    if (chunked_) {
        buffers_.emplace_back(chunk_end.data(), chunk_end.size());
        if (closing_ && queue_.empty()) {
            buffers_.emplace_back(last_chunk.data(), last_chunk.size());
        }
    }

    flight_left_ = 0;
    for (const auto& b : buffers_) {
        flight_left_ += b.size();
    }
    buffer_index_ = 0;
    writing_ = true;
    last_progress_ = clock::now();
    write_more();
}

void sse_connection::write_more() {
    // Non-blocking gathered writes of everything still unwritten, right away: the kernel
    // usually takes it all, so the backlog checked against the outbound limit is only what
    // the client has really not taken. When the kernel is full, wait until it is writable;
    // each partial write counts as progress against the write timeout.
    while (buffer_index_ < buffers_.size()) {
        const std::span<const asio::const_buffer> rest(buffers_.data() + buffer_index_,
                                                       buffers_.size() - buffer_index_);
        error_code ec;
        const std::size_t n = socket_.write_some(rest, ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) {
            socket_.async_wait(
                asio::ip::tcp::socket::wait_write,
                [self = shared_from_this()](const error_code& e) { self->on_writable(e); });
            return;
        }
        if (ec) {
            write_failed(ec);
            return;
        }
        advance(n);
    }
    batch_written();
}

void sse_connection::on_writable(const error_code& ec) {
    if (finished_) {
        return;
    }
    if (ec) {
        write_failed(ec);
        return;
    }
    write_more();
}

void sse_connection::write_failed(const error_code& ec) {
    if (ec == asio::error::timed_out) {
        peer_timed_out();
        return;
    }
    core::logger("http")->debug("stream write failed session={} remote={}: {}", session_, remote_,
                                ec.message());
    finish(end_reason::client_closed);
}

void sse_connection::advance(std::size_t n) {
    last_progress_ = clock::now();
    flight_left_ -= n;
    replay_left_ -= std::min(n, replay_left_);

    // Step over what the kernel took; a partly written buffer is trimmed in place.
    while (n > 0 && buffer_index_ < buffers_.size()) {
        auto& b = buffers_[buffer_index_];
        if (n < b.size()) {
            b += n;
            n = 0;
        } else {
            n -= b.size();
            ++buffer_index_;
        }
    }
}

void sse_connection::batch_written() {
    writing_ = false;
    last_write_ = clock::now();
    flight_.clear();
    flight_left_ = 0;
    if (!head_.empty()) {
        std::string().swap(head_);
        std::string().swap(intro_);
    }
    if (flight_.capacity() > 64) {
        std::vector<item>().swap(flight_);
        std::vector<asio::const_buffer>().swap(buffers_);
    }
    start_write();
}

void sse_connection::watch_reads() {
    socket_.async_wait(
        asio::ip::tcp::socket::wait_read,
        [self = shared_from_this()](const error_code& ec) { self->on_readable(ec); });
}

void sse_connection::on_readable(const error_code& ec) {
    if (finished_) {
        return;
    }
    if (ec) {
        finish(end_reason::client_closed);
        return;
    }

    // A stream's client has nothing more to say; whatever it sends is read and dropped, and
    // end of file or an error (a reset) ends the stream at once, even when it is idle.
    char scratch[512];
    error_code read_ec;
    const std::size_t n = socket_.read_some(asio::buffer(scratch), read_ec);
    if (read_ec == asio::error::would_block || (!read_ec && n > 0)) {
        watch_reads();
        return;
    }
    if (read_ec == asio::error::timed_out) {
        peer_timed_out();
        return;
    }
    core::logger("http")->debug("stream closed by client session={} remote={}", session_, remote_);
    finish(end_reason::client_closed);
}

void sse_connection::peer_timed_out() {
    core::logger("http")->warn("peer timed out session={} remote={} queued={}", session_, remote_,
                               queued_bytes_ + flight_left_);
    worker_.stats().write_timeouts.fetch_add(1, std::memory_order_relaxed);
    finish(end_reason::dead_peer);
}

void sse_connection::finish(end_reason why) {
    if (!finished_) {
        finished_ = true;
        finish_reason_ = why;
        worker_.remove(*this);
        if (started_) {
            worker_.stats().open_streams.fetch_sub(1, std::memory_order_relaxed);
        }
        error_code ignored;
        socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        socket_.close(ignored);
        slot_ = connection_limiter::slot{};
        queue_.clear();
        flight_.clear();
        queued_bytes_ = 0;
        flight_left_ = 0;
        replay_left_ = 0;
    }
    if (!opened_ || reported_) {
        return;
    }

    // Posted, never called from inside a sink call: the shard may be walking its members.
    reported_ = true;
    asio::post(worker_.context(),
               [self = shared_from_this(), why] { self->hub_.detached(self->token_, why); });
}

} // namespace ssehub::http
