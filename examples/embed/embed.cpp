// SPDX-License-Identifier: Apache-2.0
//
// ssehub inside another program: the hub runs on the program's own io_context, and a sink of
// the program's own (here, one that prints) takes the place of an HTTP connection. A real
// embedding would write the bytes to its WebSocket, its own HTTP server or a test recorder.
//
//   build/release/examples/embed_example
//
// prints the SSE bytes one session receives: a push, then a broadcast to its channel.

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json/value.hpp>
#include <cstdio>
#include <memory>
#include <ssehub/hub.hpp>
#include <string>

namespace {

/// Collects the events of one session and prints each batch when the hub says it ended.
/// Every call comes on the io_context the sink was attached from.
class print_sink : public ssehub::sink {
public:
    print_sink(ssehub::hub& hub, boost::asio::io_context& ioc) : hub_(hub), ioc_(ioc) {}

    void set_token(std::uint64_t token) { token_ = token; }

    void opened() override { std::printf("-- stream opened\n"); }

    void deliver(const ssehub::event_ptr& e) override { pending_ += e->bytes; }

    void flush() override {
        std::fwrite(pending_.data(), 1, pending_.size(), stdout);
        std::fflush(stdout);
        pending_.clear();
    }

    // The hub ends the stream; what is queued is written, then the ending is reported
    // later on the same thread, never from inside the hub's own call.
    void close(ssehub::end_reason why) override {
        flush();
        std::printf("-- stream closed reason=%s\n", std::string(to_string(why)).c_str());
        boost::asio::post(ioc_, [this, why] { hub_.detached(token_, why); });
    }

private:
    ssehub::hub& hub_;
    boost::asio::io_context& ioc_;
    std::uint64_t token_ = 0;
    std::string pending_;
};

} // namespace

int main() {
    boost::asio::io_context ioc;
    ssehub::hub_options options;
    options.session_grace = std::chrono::milliseconds{0};
    ssehub::hub hub(options, {&ioc});
    hub.set_end_handler([](ssehub::ended_session ended) {
        std::printf("-- session ended id=%s reason=%s\n", ended.id.c_str(),
                    std::string(to_string(ended.reason)).c_str());
    });

    const ssehub::namespace_id ns{"", "dp_001", "greeting"};
    auto sink = std::make_shared<print_sink>(hub, ioc);

    // 1. Attach the program's own connection as session `alice`, from the sink's thread.
    boost::asio::post(ioc, [&] {
        ssehub::subscribe_request request{ns, "alice", {"news"}, std::nullopt, "embedded"};
        auto attached = hub.attach(request, sink, 0);
        if (!attached) {
            std::printf("attach failed: %s\n", attached.error().message.c_str());
            return;
        }
        sink->set_token(attached->token);

        // 2. Publish: the hub encodes each event once and queues it on the sink's thread.
        auto pushed = hub.push(ns, "alice", boost::json::value{{"text", "Hello, world!"}});
        auto sent = hub.broadcast(ns, "news", boost::json::value{{"headline", "ssehub"}}, "update");
        if (!pushed || !sent) {
            std::printf("publish failed\n");
            return;
        }

        // 3. End the session as DELETE /api/v1/sessions/alice would.
        boost::asio::post(ioc, [&] { (void)hub.kick(ns, "alice"); });
    });

    ioc.run();
    return 0;
}
