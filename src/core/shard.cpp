// SPDX-License-Identifier: Apache-2.0
#include "core/shard.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>

namespace ssehub::core {

void shard::submit(command c) {
    bool post = false;
    {
        std::lock_guard lock(inbox_mu_);
        inbox_.push_back(std::move(c));
        post = !drain_posted_;
        drain_posted_ = true;
    }
    if (post) {
        boost::asio::post(ioc_, [this] { drain(); });
    }
}

void shard::submit_add(std::uint64_t token, std::shared_ptr<sink> s,
                       std::vector<std::uint64_t> channels, std::vector<event_ptr> replay) {
    command c;
    c.kind = command::op::add;
    c.token = token;
    c.add = std::make_unique<add_payload>(
        add_payload{std::move(s), std::move(channels), std::move(replay)});
    submit(std::move(c));
}

void shard::submit_close(std::uint64_t token, end_reason why) {
    command c;
    c.kind = command::op::close;
    c.token = token;
    c.why = why;
    submit(std::move(c));
}

void shard::submit_join(std::uint64_t token, std::uint64_t channel) {
    command c;
    c.kind = command::op::join;
    c.token = token;
    c.channel = channel;
    submit(std::move(c));
}

void shard::submit_leave(std::uint64_t token, std::uint64_t channel) {
    command c;
    c.kind = command::op::leave;
    c.token = token;
    c.channel = channel;
    submit(std::move(c));
}

void shard::submit_deliver(std::uint64_t token, event_ptr e) {
    command c;
    c.kind = command::op::deliver;
    c.token = token;
    c.ev = std::move(e);
    submit(std::move(c));
}

void shard::submit_deliver_channel(std::uint64_t channel, event_ptr e) {
    command c;
    c.kind = command::op::deliver_channel;
    c.channel = channel;
    c.ev = std::move(e);
    submit(std::move(c));
}

void shard::post_drain() {
    {
        std::lock_guard lock(inbox_mu_);
        if (drain_posted_) {
            return;
        }
        drain_posted_ = true;
    }
    boost::asio::post(ioc_, [this] { drain(); });
}

void shard::drain() {
    {
        std::lock_guard lock(inbox_mu_);
        running_.swap(inbox_);
        drain_posted_ = false;
    }
    for (auto& c : running_) {
        run(c);
    }
    running_.clear();

    // Every connection that got events starts one gathered write, a slice at a time; the
    // rest waits behind whatever else is ready on this thread.
    if (flush_dirty()) {
        post_drain();
    }
}

void shard::run(command& c) {
    switch (c.kind) {
    case command::op::add:
        add(c.token, *c.add);
        break;
    case command::op::close:
        close(c.token, c.why);
        break;
    case command::op::join:
        join(c.token, c.channel);
        break;
    case command::op::leave:
        leave(c.token, c.channel);
        break;
    case command::op::deliver:
        deliver(c.token, c.ev);
        break;
    case command::op::deliver_channel:
        deliver_channel(c.channel, c.ev);
        break;
    }
}

void shard::add(std::uint64_t token, add_payload& p) {
    auto [it, inserted] = entries_.try_emplace(token);
    if (!inserted) {
        return;
    }
    entry& e = it->second;
    e.target = std::move(p.target);
    for (auto channel : p.channels) {
        join(token, channel);
    }
    const auto& replay = p.replay;

    // The sink may end itself from here on; replayed events go before any live one because
    // the hub posted this task before any later publish.
    e.target->opened();
    for (const auto& ev : replay) {
        e.target->deliver(ev);
    }
    if (!replay.empty()) {
        mark(e);
    }
}

void shard::remove(std::uint64_t token) {
    auto it = entries_.find(token);
    if (it == entries_.end()) {
        return;
    }
    unlink(it->second);
    entries_.erase(it);
}

void shard::close(std::uint64_t token, end_reason why) {
    auto it = entries_.find(token);
    if (it == entries_.end()) {
        return;
    }
    auto target = std::move(it->second.target);
    unlink(it->second);
    entries_.erase(it);
    target->close(why);
}

void shard::join(std::uint64_t token, std::uint64_t channel) {
    auto it = entries_.find(token);
    if (it == entries_.end()) {
        return;
    }
    entry& e = it->second;
    const bool member =
        std::any_of(e.channels.begin(), e.channels.end(),
                    [channel](const membership& m) { return m.channel == channel; });
    if (member) {
        return;
    }
    auto& followers = channels_[channel];
    e.channels.push_back({channel, followers.size()});
    followers.push_back(&e);
}

void shard::leave(std::uint64_t token, std::uint64_t channel) {
    auto it = entries_.find(token);
    if (it == entries_.end()) {
        return;
    }
    entry& e = it->second;
    auto m = std::find_if(e.channels.begin(), e.channels.end(),
                          [channel](const membership& x) { return x.channel == channel; });
    if (m != e.channels.end()) {
        unfollow(e, static_cast<std::size_t>(m - e.channels.begin()));
    }
}

void shard::unfollow(entry& e, std::size_t index) {
    const membership m = e.channels[index];

    // Swap-remove from the follower list, then fix the moved entry's recorded position.
    auto& followers = channels_[m.channel];
    entry* moved = followers.back();
    followers[m.position] = moved;
    followers.pop_back();
    if (moved != &e) {
        for (auto& mm : moved->channels) {
            if (mm.channel == m.channel) {
                mm.position = m.position;
                break;
            }
        }
    }
    if (followers.empty()) {
        channels_.erase(m.channel);
    }

    e.channels[index] = e.channels.back();
    e.channels.pop_back();
}

void shard::unlink(entry& e) {
    while (!e.channels.empty()) {
        unfollow(e, e.channels.size() - 1);
    }
    if (e.dirty) {
        dirty_[e.dirty_slot] = nullptr;
        e.dirty = false;
    }
}

void shard::deliver(std::uint64_t token, const event_ptr& ev) {
    auto it = entries_.find(token);
    if (it == entries_.end()) {
        return;
    }
    it->second.target->deliver(ev);
    mark(it->second);
}

void shard::deliver_channel(std::uint64_t channel, const event_ptr& ev) {
    auto it = channels_.find(channel);
    if (it == channels_.end()) {
        return;
    }
    for (entry* e : it->second) {
        e->target->deliver(ev);
        mark(*e);
    }
}

void shard::mark(entry& e) {
    if (e.dirty) {
        return;
    }
    e.dirty = true;
    e.dirty_slot = dirty_.size();
    dirty_.push_back(&e);
}

bool shard::flush_dirty() {
    // flush() never calls back into the shard, so the entries of dirty_ stay where they are
    // during the walk.
    std::size_t budget = flush_slice_connections;
    while (flushed_ < dirty_.size() && budget > 0) {
        entry* e = dirty_[flushed_++];
        if (e == nullptr) {
            continue;
        }
        e->dirty = false;
        e->target->flush();
        --budget;
    }
    if (flushed_ < dirty_.size()) {
        // Under a steady flow the list may never run empty: drop the flushed front once it
        // is most of the list, so its size stays bounded by the connections waiting.
        if (flushed_ >= 8 * flush_slice_connections && 2 * flushed_ >= dirty_.size()) {
            dirty_.erase(dirty_.begin(), dirty_.begin() + static_cast<std::ptrdiff_t>(flushed_));
            flushed_ = 0;
            for (std::size_t i = 0; i < dirty_.size(); ++i) {
                if (dirty_[i] != nullptr) {
                    dirty_[i]->dirty_slot = i;
                }
            }
        }
        return true;
    }

    // All written: keep the vector's capacity for the next burst.
    dirty_.clear();
    flushed_ = 0;
    return false;
}

} // namespace ssehub::core
