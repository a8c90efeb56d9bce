// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ssehub::app {

/// One dispatched event, as an EventSource would see it.
struct sse_event {
    std::string type; ///< the `event:` field, or `message` when the event had none
    std::string data; ///< the `data:` lines joined with LF
    std::string id;   ///< the last event id in force when the event was dispatched

    bool operator==(const sse_event&) const = default;
};

/// Parses a `text/event-stream` body by the rules of the WHATWG HTML standard (section
/// "Interpreting an event stream"): lines end in CRLF, LF or CR; a leading byte-order mark
/// is dropped; `:` starts a comment; one space after the field's colon is stripped; a blank
/// line dispatches the event if it has data; `id` containing NUL and a `retry` that is not
/// all digits are ignored; unknown fields are ignored.
///
/// Bytes may arrive cut anywhere, even inside a CRLF or the byte-order mark. An event that
/// is still open when the stream ends is never dispatched: the caller simply stops feeding.
/// Bytes are kept as they come; the parser does not check UTF-8.
class event_stream_parser {
public:
    /// Called once per dispatched event, from inside feed(). It must not call feed().
    using handler = std::function<void(const sse_event&)>;

    explicit event_stream_parser(handler on_event);

    void feed(std::string_view bytes);

    /// The last `retry:` value received, in milliseconds.
    std::optional<std::uint64_t> retry() const noexcept { return retry_; }

    /// The last event id buffer: what a reconnecting client sends as `Last-Event-ID`.
    const std::string& last_event_id() const noexcept { return last_event_id_; }

private:
    void take_line(std::string_view line);

    handler on_event_;
    std::string line_;         ///< the line being read, not yet ended
    bool skip_lf_ = false;     ///< the previous byte was a CR, so an LF right after is its end
    std::size_t bom_seen_ = 0; ///< bytes of the byte-order mark matched at the start
    bool started_ = false;     ///< past the place where a byte-order mark may be
    std::string type_;
    std::string data_;
    std::string last_event_id_;
    std::optional<std::uint64_t> retry_;
};

} // namespace ssehub::app
