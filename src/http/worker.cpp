// SPDX-License-Identifier: Apache-2.0
#include "http/worker.hpp"

#include <algorithm>

namespace ssehub::http {

namespace {

// Keep-alives go out within a tenth of their period (at most 1 s late, at least 50 ms
// between walks), which F11's ±1 s allows.
std::chrono::milliseconds tick_period(const stream_settings& s) {
    using std::chrono::milliseconds;
    const auto shortest = std::min(s.keepalive, s.write_timeout);
    return std::clamp(shortest / 10, milliseconds(50), milliseconds(1000));
}

} // namespace

worker::worker(std::size_t index, boost::asio::io_context& ioc, stream_settings settings,
               http_stats& stats)
    : index_(index), ioc_(ioc), settings_(settings), stats_(stats), period_(tick_period(settings_)),
      timer_(std::in_place, ioc) {}

void worker::add(sse_connection& c) {
    c.worker_slot = streams_.size();
    streams_.push_back(&c);
}

void worker::remove(sse_connection& c) {
    const std::size_t slot = c.worker_slot;
    if (slot >= streams_.size() || streams_[slot] != &c) {
        return;
    }
    streams_[slot] = streams_.back();
    streams_[slot]->worker_slot = slot;
    streams_.pop_back();
}

void worker::add_tunnel(const std::shared_ptr<tls_tunnel>& t) {
    if (tunnels_drained_) {
        // Accepted just before the listener closed: it is drained like the others.
        t->drain();
        return;
    }
    // Tunnels that ended are swept when the list doubles: it stays within twice the live ones.
    if (tunnels_.size() >= tunnels_swept_at_) {
        std::erase_if(tunnels_, [](const auto& w) { return w.expired(); });
        tunnels_swept_at_ = std::max<std::size_t>(16, 2 * tunnels_.size());
    }
    tunnels_.push_back(t);
}

void worker::drain_tunnels() {
    for (const auto& w : tunnels_) {
        if (auto t = w.lock()) {
            t->drain();
        }
    }
    tunnels_.clear();
    tunnels_drained_ = true;
}

void worker::start_timer() {
    stopped_ = false;
    arm();
}

void worker::stop_timer() {
    stopped_ = true;
    timer_.reset();
}

void worker::arm() {
    if (!timer_) {
        return;
    }
    timer_->expires_after(period_);
    timer_->async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopped_) {
            return;
        }
        on_tick();
        arm();
    });
}

void worker::on_tick() {
    const auto now = clock::now();

    // Backwards, because tick() may remove the stream, which moves the last one into its
    // slot: that one has been visited already.
    for (std::size_t i = streams_.size(); i > 0; --i) {
        if (i - 1 < streams_.size()) {
            streams_[i - 1]->tick(now);
        }
    }
}

} // namespace ssehub::http
