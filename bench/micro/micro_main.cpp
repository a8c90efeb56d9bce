// SPDX-License-Identifier: Apache-2.0
//
// Microbenchmarks of the hot path: encoding an event once, the event-id codec, and one
// broadcast fanned out to N in-memory sinks through ssehub::hub. They guard against a
// regression (an allocation or a copy per recipient shows as time per recipient growing);
// they assert nothing.

#include "core/encoder.hpp"
#include "core/event_id.hpp"

#include <benchmark/benchmark.h>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <memory>
#include <ssehub/hub.hpp>
#include <string>

namespace {

void bm_encode_event(benchmark::State& state) {
    const std::string data(static_cast<std::size_t>(state.range(0)), 'x');
    for (auto _ : state) {
        auto bytes = ssehub::core::encode_event("message", "k3f9ab-1042", data);
        benchmark::DoNotOptimize(bytes);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

BENCHMARK(bm_encode_event)->Arg(64)->Arg(1024)->Arg(64 * 1024);

void bm_event_id_format(benchmark::State& state) {
    const ssehub::core::event_id_codec codec("k3f9ab");
    std::uint64_t seq = 1'000'000;
    for (auto _ : state) {
        auto id = codec.format(++seq);
        benchmark::DoNotOptimize(id);
    }
}

BENCHMARK(bm_event_id_format);

void bm_event_id_parse(benchmark::State& state) {
    const ssehub::core::event_id_codec codec("k3f9ab");
    const std::string id = codec.format(123'456'789);
    for (auto _ : state) {
        auto parsed = codec.parse(id);
        benchmark::DoNotOptimize(parsed);
    }
}

BENCHMARK(bm_event_id_parse);

// The cheapest possible connection: it counts what the hub hands it.
class counting_sink final : public ssehub::sink {
public:
    void opened() override {}

    void deliver(const ssehub::event_ptr& e) override {
        bytes_ += e->bytes.size();
        ++events_;
    }

    void flush() override { ++flushes_; }

    void close(ssehub::end_reason) override {}

    std::uint64_t events_ = 0;
    std::uint64_t flushes_ = 0;
    std::size_t bytes_ = 0;
};

// One broadcast to a channel of N connected sessions on one shard, run to completion:
// the publish (sequence, encode, history) plus the shard's walk over its members.
void bm_hub_fanout(benchmark::State& state) {
    const auto members = static_cast<std::size_t>(state.range(0));
    boost::asio::io_context shard;
    ssehub::hub_options options;
    options.session_grace = std::chrono::milliseconds{0};
    ssehub::hub hub(options, {&shard});

    std::vector<std::shared_ptr<counting_sink>> sinks;
    for (std::size_t i = 0; i < members; ++i) {
        auto s = std::make_shared<counting_sink>();
        ssehub::subscribe_request request;
        request.session = std::to_string(i).insert(0, 1, 's');
        request.channels = {"room"};
        if (!hub.attach(request, s, 0)) {
            state.SkipWithError("attach failed");
            return;
        }
        sinks.push_back(std::move(s));
    }
    shard.poll();
    shard.restart();

    const auto message = boost::json::parse(R"({"ts":1733300000000000000,"seq":1})");
    for (auto _ : state) {
        auto r = hub.broadcast({}, "room", message);
        benchmark::DoNotOptimize(r);
        shard.poll();
        shard.restart();
    }

    // The shard starts its writes in slices; each sink must still be flushed once per event.
    std::uint64_t delivered = 0;
    std::uint64_t flushed = 0;
    for (const auto& s : sinks) {
        delivered += s->events_;
        flushed += s->flushes_;
    }
    if (delivered != static_cast<std::uint64_t>(state.iterations()) * members) {
        state.SkipWithError("a sink missed events");
    }
    if (flushed != delivered) {
        state.SkipWithError("a sink missed a flush");
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(delivered));
    hub.shutdown();
    shard.poll();
}

BENCHMARK(bm_hub_fanout)->Arg(1)->Arg(100)->Arg(1000)->Arg(10'000);

} // namespace

BENCHMARK_MAIN();
