// SPDX-License-Identifier: Apache-2.0
#include "core/event_id.hpp"

#include <charconv>
#include <random>
#include <stdexcept>

namespace ssehub::core {

namespace {

constexpr std::size_t epoch_length = 6;
constexpr std::size_t max_epoch_length = 16;
constexpr std::string_view base36 = "0123456789abcdefghijklmnopqrstuvwxyz";

bool is_epoch_char(char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
}

} // namespace

event_id_codec::event_id_codec(std::string epoch) : epoch_(std::move(epoch)) {
    if (epoch_.empty() || epoch_.size() > max_epoch_length) {
        throw std::invalid_argument("event id epoch must have 1 to 16 characters");
    }
    for (char c : epoch_) {
        if (!is_epoch_char(c)) {
            throw std::invalid_argument("event id epoch must be lowercase base 36");
        }
    }
}

std::string event_id_codec::random_epoch() {
    std::random_device source;
    std::uniform_int_distribution<std::size_t> pick(0, base36.size() - 1);
    std::string out(epoch_length, '0');
    for (char& c : out) {
        c = base36[pick(source)];
    }
    return out;
}

std::string event_id_codec::format(std::uint64_t seq) const {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, seq).ptr;

    std::string out;
    out.reserve(epoch_.size() + 1 + static_cast<std::size_t>(end - digits));
    out += epoch_;
    out += '-';
    out.append(digits, end);
    return out;
}

event_id_codec::parsed event_id_codec::parse(std::string_view id) const noexcept {
    const auto dash = id.find('-');
    if (dash == std::string_view::npos || dash == 0 || dash > max_epoch_length) {
        return {};
    }
    const auto epoch = id.substr(0, dash);
    for (char c : epoch) {
        if (!is_epoch_char(c)) {
            return {};
        }
    }

    // Decimal digits only, no sign, no leading zero except "0" itself, no overflow.
    const auto digits = id.substr(dash + 1);
    if (digits.empty() || digits.size() > 20 || (digits.size() > 1 && digits[0] == '0')) {
        return {};
    }
    std::uint64_t seq = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seq);
    if (ec != std::errc{} || end != digits.data() + digits.size()) {
        return {};
    }

    if (epoch != epoch_) {
        return {status::other_epoch, seq};
    }
    return {status::ok, seq};
}

} // namespace ssehub::core
