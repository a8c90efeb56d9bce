// SPDX-License-Identifier: Apache-2.0
#include "app/event_stream_parser.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

namespace ssehub::app {

namespace {

constexpr std::string_view byte_order_mark = "\xEF\xBB\xBF";

} // namespace

event_stream_parser::event_stream_parser(handler on_event) : on_event_(std::move(on_event)) {}

void event_stream_parser::feed(std::string_view bytes) {
    // Until three bytes are in, the stream may still open with a byte-order mark. Bytes that
    // matched only a part of it were data after all: they start the first line.
    while (!started_ && !bytes.empty()) {
        if (bytes.front() != byte_order_mark[bom_seen_]) {
            line_.append(byte_order_mark.substr(0, bom_seen_));
            started_ = true;
            break;
        }
        bytes.remove_prefix(1);
        started_ = ++bom_seen_ == byte_order_mark.size();
    }
    if (!started_) {
        return;
    }

    while (!bytes.empty()) {
        // An LF right after a CR ends the same line, even when a chunk boundary fell between.
        if (skip_lf_) {
            skip_lf_ = false;
            if (bytes.front() == '\n') {
                bytes.remove_prefix(1);
                continue;
            }
        }

        const auto end = bytes.find_first_of("\r\n");
        if (end == std::string_view::npos) {
            line_.append(bytes);
            return;
        }
        line_.append(bytes.substr(0, end));
        skip_lf_ = bytes[end] == '\r';
        bytes.remove_prefix(end + 1);
        take_line(line_);
        line_.clear();
    }
}

void event_stream_parser::take_line(std::string_view line) {
    // A blank line ends the event; one without data is dropped, as a browser drops it.
    if (line.empty()) {
        if (!data_.empty()) {
            data_.pop_back();
            on_event_(
                sse_event{type_.empty() ? "message" : type_, std::move(data_), last_event_id_});
        }
        data_.clear();
        type_.clear();
        return;
    }
    if (line.front() == ':') {
        return;
    }

    const auto colon = line.find(':');
    const std::string_view field = line.substr(0, colon);
    std::string_view value;
    if (colon != std::string_view::npos) {
        value = line.substr(colon + 1);
        if (value.starts_with(' ')) {
            value.remove_prefix(1);
        }
    }

    if (field == "event") {
        type_ = value;
    } else if (field == "data") {
        data_.append(value);
        data_.push_back('\n');
    } else if (field == "id") {
        if (value.find('\0') == std::string_view::npos) {
            last_event_id_ = value;
        }
    } else if (field == "retry") {
        const bool digits = !value.empty() &&
                            std::ranges::all_of(value, [](char c) { return c >= '0' && c <= '9'; });
        std::uint64_t ms = 0;
        if (digits) {
            const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
            if (ec == std::errc{}) {
                retry_ = ms;
            }
        }
    }
}

} // namespace ssehub::app
