// SPDX-License-Identifier: Apache-2.0
#include "http/sse_connection.hpp"

#include "core/encoder.hpp"
#include "core/log.hpp"
#include "http/worker.hpp"

#include <boost/asio/post.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <charconv>
#include <random>
#include <span>

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
    session_ = a.session;
    token_ = a.token;
    chunked_ = chunked;

    head_ = "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/event-stream\r\n"
            "Cache-Control: private, no-cache, no-store, no-transform, must-revalidate, "
            "max-age=0\r\n"
            "Connection: keep-alive\r\n"
            "Pragma: no-cache\r\n"
            "X-Accel-Buffering: no\r\n";
    if (chunked_) {
        head_ += "Transfer-Encoding: chunked\r\n";
    }
    head_ += extra_headers;
    head_ += "\r\n";

    intro_ = core::encode_retry(worker_.settings().retry.count());
    if (a.generated_id) {
        const auto data =
            "{\"session\":" + boost::json::serialize(boost::json::string(a.session)) + "}";
        intro_ += core::encode_event("session", a.cursor, data);
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

    // Past the outbound limit the client is too slow: close now and let it resume from its
    // last complete event. An event cut by the close lacks its blank line, so no parser
    // dispatches it.
    if (queued_bytes_ > worker_.settings().outbound_limit) {
        core::logger("http")->warn("slow consumer disconnected session={} remote={} queued={}",
                                   session_, remote_, queued_bytes_);
        worker_.stats().slow_consumer_disconnects.fetch_add(1, std::memory_order_relaxed);
        finish(end_reason::slow_consumer);
    }
}

void sse_connection::flush() {
    if (!writing_ && !finished_ && !queue_.empty()) {
        start_write();
    }
}

void sse_connection::close(end_reason why) {
    if (finished_ || closing_) {
        return;
    }
    closing_ = true;
    close_reason_ = why;
    if (why != end_reason::replaced) {
        tail_ = core::encode_retry(spread_retry(worker_.settings().retry));
        queue_bytes(tail_, nullptr);
    }
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
                                       remote_, queued_bytes_);
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

    buffer_index_ = 0;
    writing_ = true;
    last_progress_ = clock::now();
    write_more();
}

void sse_connection::write_more() {
    // Gathered write of everything still unwritten; write_some, not async_write, so that
    // each partial write counts as progress against the write timeout.
    const std::span<const asio::const_buffer> rest(buffers_.data() + buffer_index_,
                                                   buffers_.size() - buffer_index_);
    socket_.async_write_some(rest,
                             [self = shared_from_this()](const error_code& ec, std::size_t n) {
                                 self->on_write(ec, n);
                             });
}

void sse_connection::on_write(const error_code& ec, std::size_t n) {
    if (finished_) {
        return;
    }
    if (ec) {
        core::logger("http")->debug("stream write failed session={} remote={}: {}", session_,
                                    remote_, ec.message());
        finish(end_reason::client_closed);
        return;
    }

    const auto now = clock::now();
    last_progress_ = now;

    // Advance over what the kernel took; a partly written buffer is trimmed in place.
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
    if (buffer_index_ < buffers_.size()) {
        write_more();
        return;
    }

    // The whole batch is out.
    writing_ = false;
    last_write_ = now;
    for (const auto& it : flight_) {
        queued_bytes_ -= it.bytes.size();
    }
    flight_.clear();
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
    core::logger("http")->debug("stream closed by client session={} remote={}", session_, remote_);
    finish(end_reason::client_closed);
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
