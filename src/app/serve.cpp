// SPDX-License-Identifier: Apache-2.0
#include "app/serve.hpp"

#include "actions/engine.hpp"
#include "core/log.hpp"
#include "http/server.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <sys/resource.h>
#include <thread>

namespace ssehub::app {

namespace asio = boost::asio;

namespace {

constexpr std::chrono::milliseconds sweep_period{1000};
constexpr std::chrono::milliseconds drain_poll{20};

using work_guard = asio::executor_work_guard<asio::io_context::executor_type>;

std::size_t file_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return 0;
    }
    // Raise the soft limit to the hard one: every stream is a file descriptor.
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return static_cast<std::size_t>(rl.rlim_cur);
}

// Runs hub.sweep() every second on the first worker until stopped.
class sweeper {
public:
    sweeper(asio::io_context& ioc, hub& h) : timer_(ioc), hub_(h) {}

    void start() {
        timer_.expires_after(sweep_period);
        timer_.async_wait([this](const boost::system::error_code& ec) {
            if (ec || stopped_) {
                return;
            }
            hub_.sweep();
            start();
        });
    }

    void stop() {
        stopped_ = true;
        timer_.cancel();
    }

private:
    asio::steady_timer timer_;
    hub& hub_;
    bool stopped_ = false;
};

} // namespace

int serve(const config& cfg) {
    auto log = core::logger("app");
    const std::size_t threads = cfg.server.threads > 0
                                    ? cfg.server.threads
                                    : std::max<std::size_t>(1, std::thread::hardware_concurrency());

    // One io_context per worker thread; worker i is also the hub's shard i.
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    std::vector<asio::io_context*> raw;
    std::vector<work_guard> guards;
    for (std::size_t i = 0; i < threads; ++i) {
        contexts.push_back(std::make_unique<asio::io_context>(1));
        raw.push_back(contexts.back().get());
        guards.push_back(asio::make_work_guard(*contexts.back()));
    }

    auto the_hub = std::make_unique<hub>(cfg.hub, raw);
    actions::engine_options engine_options;
    // The drain below already waited for the actions; stop() only bounds a straggler.
    engine_options.stop_deadline =
        std::min(cfg.server.shutdown_deadline, std::chrono::milliseconds{1000});
    engine_options.webhooks.allow = cfg.webhooks_allow;
    engine_options.webhooks.timeout = cfg.webhooks_timeout;
    engine_options.webhooks.retries = cfg.webhooks_retries;
    engine_options.webhooks.secret = cfg.webhooks_secret;
    engine_options.webhooks.backoff = cfg.webhooks_backoff;
    engine_options.webhooks.queue_limit = cfg.webhooks_queue;
    engine_options.webhooks.concurrency = cfg.webhooks_concurrency;
    engine_options.webhooks.ca_file = cfg.webhooks_ca_file;
    engine_options.forward_url = cfg.actions_forward_url;
    auto engine = std::make_unique<actions::engine>(*the_hub, std::move(engine_options));
    for (std::size_t i = 0; i < cfg.server.routes.size(); ++i) {
        const auto& route = cfg.server.routes[i];
        if (auto ok =
                engine->check_connect(route.connect, "routes[" + std::to_string(i) + "].connect");
            !ok) {
            log->error("configuration error: {} ({}): {}", ok.error().path, route.path,
                       ok.error().message);
            return 2;
        }
    }
    the_hub->set_end_handler(
        [e = engine.get()](ended_session s) { e->on_session_end(std::move(s)); });
    auto srv = std::make_unique<http::server>(cfg.server, *the_hub, *engine, raw);

    // Signals are caught from before the listener exists: a SIGTERM that follows the
    // `listening` line at once must drain and exit 0, never kill the process.
    auto signals = std::make_unique<asio::signal_set>(*contexts[0], SIGINT, SIGTERM);

    auto bound = srv->listen();
    if (!bound) {
        log->error("{}", bound.error().message);
        return 2;
    }
    const auto files = file_limit();

    engine->start();
    srv->start();

    // Before `listening`, which tells a watcher that every listener is ready.
    if (auto tls = srv->tls_endpoint()) {
        log->info("tls listener ready https={}:{}", tls->address().to_string(), tls->port());
    }
    log->info("listening address={}:{} threads={} broker={} grace={}ms file_limit={}",
              bound->address().to_string(), bound->port(), threads, cfg.broker_url,
              cfg.hub.session_grace.count(), files);
    if (files > 0 && files < cfg.server.connections) {
        log->info("connections bounded by the file limit limit={} limits.connections={}", files,
                  cfg.server.connections);
    }

    auto sweep = std::make_unique<sweeper>(*contexts[0], *the_hub);
    sweep->start();

    // SIGINT / SIGTERM: stop accepting, end every stream with a retry hint, run the
    // disconnect actions (reason shutdown), then stop once all is drained or at the deadline.
    auto drain_timer = std::make_unique<asio::steady_timer>(*contexts[0]);
    clock::time_point stop_at{};
    std::function<void()> wait_drained;
    auto finish = [&] {
        sweep->stop();
        srv->stop_timers();
        guards.clear();
        for (auto& c : contexts) {
            c->stop();
        }
    };
    bool tunnels_draining = false;
    wait_drained = [&] {
        // Once the streams are done, their last bytes may still be on the way through a TLS
        // tunnel: the tunnels close when they have forwarded everything.
        const bool streams_done = srv->stats().open_streams.load() == 0;
        if (streams_done && !tunnels_draining) {
            tunnels_draining = true;
            srv->drain_tunnels();
        }
        // Webhooks of the shutdown's own actions count too: they go out before the exit.
        const bool drained = streams_done && srv->stats().open_tunnels.load() == 0 &&
                             engine->stats().pending.load() == 0 &&
                             engine->webhooks().queued.load() == 0;
        if (drained || clock::now() >= stop_at) {
            if (!drained) {
                log->warn("shutdown deadline reached streams={} tls={} pending_actions={} "
                          "webhooks={}",
                          srv->stats().open_streams.load(), srv->stats().open_tunnels.load(),
                          engine->stats().pending.load(), engine->webhooks().queued.load());
            }
            finish();
            return;
        }
        drain_timer->expires_after(drain_poll);
        drain_timer->async_wait([&](const boost::system::error_code& ec) {
            if (!ec) {
                wait_drained();
            }
        });
    };
    signals->async_wait([&](const boost::system::error_code& ec, int signo) {
        if (ec) {
            return;
        }
        log->info("shutting down signal={} streams={} deadline={}ms", signo,
                  the_hub->stats().connections.load(), cfg.server.shutdown_deadline.count());
        stop_at = clock::now() + cfg.server.shutdown_deadline;
        srv->stop_accepting();
        the_hub->shutdown();
        wait_drained();
    });

    std::vector<std::thread> pool;
    for (std::size_t i = 1; i < threads; ++i) {
        pool.emplace_back([c = contexts[i].get()] { c->run(); });
    }
    contexts[0]->run();
    for (auto& t : pool) {
        t.join();
    }

    // Actions first (they call the hub). Then the hub, whose shards still hold every
    // connection whose posted hub::detached() never ran: they must die while their worker
    // and their io_context live. Then the contexts, whose destruction frees every pending handler
    // and the connections those hold, while the server still lives.
    engine->stop();
    srv->release_io_objects();
    signals.reset();
    drain_timer.reset();
    sweep.reset();
    the_hub.reset();
    contexts.clear();
    srv.reset();
    engine.reset();
    log->info("stopped");
    return 0;
}

} // namespace ssehub::app
