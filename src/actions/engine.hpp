// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "actions/pin.hpp"
#include "actions/webhook.hpp"

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <ssehub/error.hpp>
#include <ssehub/hub.hpp>
#include <ssehub/types.hpp>
#include <thread>

namespace ssehub::actions {

struct engine_options {
    /// Ended sessions waiting for their `disconnected` actions; past it a run is dropped and
    /// counted, so a disconnect storm cannot grow memory without bound.
    std::size_t queue_limit = 100'000;

    /// How long stop() lets pending runs finish before it drops the rest.
    std::chrono::milliseconds stop_deadline{10'000};

    /// The `webhook` action's allow-list and bounds; its calls run on the engine's thread.
    webhook_options webhooks;

    /// actions.forward_url: where pins of other libraries are POSTed as `{pin, context}`,
    /// through the webhook queue; empty refuses them at registration.
    std::string forward_url;
};

/// Counters of the `disconnected` runner, read by /metrics. Relaxed atomics: exact totals,
/// no ordering promises. A run is one ended session; an action is one pin of its lists.
struct engine_stats {
    std::atomic<std::uint64_t> runs{0};     ///< ended sessions whose actions were run
    std::atomic<std::uint64_t> actions{0};  ///< pins run, whether they succeeded or not
    std::atomic<std::uint64_t> failures{0}; ///< pins that failed (logged with their path)
    std::atomic<std::uint64_t> dropped{0};  ///< runs never started: queue full or stopped
    std::atomic<std::uint64_t> pending{0};  ///< runs queued, not finished yet
};

/// Runs pins against a hub: the documents of POST /api/v1/actions, at once, and the
/// `disconnected` lists of ended sessions, later, on the engine's own thread.
///
/// Thread model: execute() and on_session_end() may be called from any thread, at the same
/// time. `disconnected` actions run one after another on one thread owned by the engine,
/// with its own io_context, so they never delay a delivery. The hub must outlive the engine.
class engine {
public:
    explicit engine(hub& target, engine_options options = {});

    /// Stops the runner (see stop()) if it is running.
    ~engine();

    // The runner's thread holds `this`: an engine never moves.
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;
    engine(engine&&) = delete;
    engine& operator=(engine&&) = delete;

    /// Executes one pin (an object) or an array of pins, in order, in `default_ns` unless a
    /// pin names its own `digipair` or `reasoning`; the tenant is always `default_ns`'s.
    ///
    /// The whole document is validated first: if any pin is invalid, the error names the
    /// offending value (`[1].properties.id`) and no pin runs. Once it is valid, execution
    /// is not transactional: when the hub refuses pin [3] (a limit, say), that error is
    /// returned with the pin's path, and pins [0] to [2] have run and stay done.
    ///
    /// Returns one result per pin: an array for an array document, an object for a lone
    /// pin. An unknown target is a result, never an error (`{delivered: 0, eventId: null,
    /// warning}` for a push to an unknown session). Called from any thread; it blocks only
    /// on the hub's lock.
    result<boost::json::value> execute(const boost::json::value& document,
                                       const namespace_id& default_ns);

    /// The hub's end handler: queues the session's `disconnected` pins, then those of each
    /// channel it left (once per channel), to run on the engine's thread. Never blocks and
    /// never runs an action itself, so it is safe on a delivery thread and from inside an
    /// action. A session with no actions costs nothing. Past `queue_limit` pending runs, or
    /// after stop(), the run is dropped and counted.
    void on_session_end(ended_session s);

    /// A route's connect actions: runs `pins` (checked at start-up) on the engine's thread
    /// for the stream of `session` in `ns`, with `request` (`{query, headers, body}`) and
    /// the subscriber's verified JWT `claims` (null without one) in the template context.
    /// Never blocks; failures are logged with their path and counted.
    void on_connect(const boost::json::value& pins, namespace_id ns, std::string session,
                    boost::json::value request, boost::json::value claims = nullptr);

    /// Checks a route's connect pins (`path` names the list), as on_connect() will run them.
    result<void> check_connect(const boost::json::value& pins, const std::string& path) const;

    /// Starts the runner's thread. Runs queued before start() then run. Call once.
    void start();

    /// Lets pending runs finish within `options.stop_deadline`, then drops what is left
    /// (counted in `dropped`) and joins the thread. An action already running finishes
    /// first; the rest of its list is skipped. Later runs are dropped. Idempotent.
    void stop();

    const engine_stats& stats() const noexcept { return stats_; }

    const actions::webhook_stats& webhooks() const noexcept { return webhooks_->stats(); }

private:
    enum class state { idle, running, stopping, stopped };

    void run_ended(const ended_session& s);
    void run_list(const ended_session& s, const boost::json::value& list,
                  const std::string* channel);
    void run_connect(const boost::json::value& pins, const namespace_id& ns,
                     const std::string& session, const boost::json::value& request,
                     const boost::json::value& claims);
    void count_drop(const ended_session& s, const char* why);
    pin_limits limits() const;

    hub& hub_;
    engine_options options_;
    engine_stats stats_;

    boost::asio::io_context io_{1};
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
    std::thread thread_;

    // After io_: destroyed first, while the io_context still owns the handlers of its calls.
    std::unique_ptr<webhook_sender> webhooks_;

    // Guards state_ and finished_, so that a run is never queued after stop() has counted
    // what is left.
    std::mutex mu_;
    std::condition_variable finished_cv_;
    state state_ = state::idle;
    bool finished_ = false;            // the thread's run() has returned
    std::atomic<bool> abandon_{false}; // set past the stop deadline: skip remaining actions
};

} // namespace ssehub::actions
