// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "actions/template.hpp"

#include <boost/json/value.hpp>
#include <cstddef>
#include <optional>
#include <ssehub/error.hpp>
#include <ssehub/hub.hpp>
#include <ssehub/types.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ssehub::actions {

// A pin is the JSON document `{library, element, properties?, conditions?}` of DESIGN.md
// section 5, or the shorthand `{type: "log" | "notify", message}` of the Digipair skill's
// documentation. This file turns one into a typed value, checking everything the hub would
// refuse, so that a document is refused as a whole before any of its pins runs.

inline constexpr std::string_view skill_library = "@digipair/skill-sse";
inline constexpr std::string_view native_library = "ssehub";

/// The hub's limits a pin is checked against, so that a pin that passes validation is not
/// refused later for an id or an event name.
struct pin_limits {
    std::size_t id_length = 128;
    std::size_t event_length = 64;
    std::size_t message_limit = 1u << 20;   ///< bytes of one message's compact JSON
    std::vector<std::string> webhook_allow; ///< webhooks.allow: URL prefixes a webhook may use
    bool forward = false; ///< actions.forward_url is set: pins of other libraries are accepted

    static pin_limits from(const hub_options& options) {
        return {options.id_length, options.event_length, options.message_limit, {}, false};
    }
};

/// Where a pin runs. It decides which template variables exist and whether the `notify`
/// shorthand, which needs a departing session, is allowed.
enum class pin_scope {
    request,     ///< POST /api/v1/actions, or a pin run by the embedding application
    session_end, ///< a `disconnected` list
};

/// The namespace a pin names through its optional `digipair` and `reasoning` properties.
struct pin_namespace {
    std::optional<std::string> digipair;
    std::optional<std::string> reasoning;

    /// `fallback` with the parts this pin names replaced; the tenant always stays, so a pin
    /// never leaves the tenant it was sent by.
    namespace_id resolve(const namespace_id& fallback) const;
};

struct register_session_pin {
    std::string id;
    boost::json::value disconnected; ///< checked pins as written; null keeps the stored ones
    pin_namespace ns;
};

struct register_channel_pin {
    std::string id; ///< `""` is the namespace's default channel
    std::optional<std::string> session;
    boost::json::value disconnected; ///< checked pins as written; null keeps the stored ones
    pin_namespace ns;
};

struct push_pin {
    std::string id;
    boost::json::value message;
    pin_namespace ns;
};

struct broadcast_pin {
    std::string id; ///< `""` reaches every session of the namespace
    std::string event = "message";
    boost::json::value message;
    pin_namespace ns;
};

enum class log_level { trace, debug, info, warn, error };

/// `ssehub` `log`, and the `{type: "log"}` shorthand (level info).
struct log_pin {
    std::string message;
    log_level level = log_level::info;
};

/// `ssehub` `close`: ends a session now (reason kicked).
struct close_pin {
    std::string id;
    pin_namespace ns;
};

/// The `{type: "notify"}` shorthand: broadcasts `message` as event `notify` to every channel
/// the departing session was in. Only in a `disconnected` list.
struct notify_pin {
    boost::json::value message;
};

/// `ssehub` `webhook`: POSTs `body` (rendered), or the action's context when absent, to
/// `url`, which lies under a prefix of webhooks.allow.
struct webhook_pin {
    std::string url;
    std::optional<boost::json::value> body;
};

/// A pin of another library, kept as written, POSTed as `{pin, context}` to
/// actions.forward_url (for example a Digipair engine). Only when that URL is set.
struct forward_pin {
    boost::json::value document;
};

/// A pin whose `conditions.if` was false where it was parsed: checked, and not run.
struct skipped_pin {
    std::string element;
};

struct each_pin;

using pin =
    std::variant<register_session_pin, register_channel_pin, push_pin, broadcast_pin, log_pin,
                 close_pin, notify_pin, webhook_pin, forward_pin, skipped_pin, each_pin>;

/// A pin with `conditions.each`: the same pin once per item of the list, each rendered with
/// that item as `{{item}}` (and its own `conditions.if`), run in order. An empty list runs
/// nothing. Its result is the array of the runs' results.
struct each_pin {
    std::vector<pin> runs;
};

/// The most items one `conditions.each` may run, so that a list cannot turn one pin into
/// unbounded work.
inline constexpr std::size_t max_each_items = 1000;

/// The element's name as written in the pin (`registerSession`, `log`, `notify`, ...).
std::string_view pin_name(const pin& p) noexcept;

struct parse_options {
    pin_limits limits;
    pin_scope scope = pin_scope::request;

    /// The template variables of the place the pin runs. String properties are rendered
    /// with it before they are checked, so the result holds the values that will be used.
    template_context context = template_context::request();
};

/// Checks one pin and returns it with its string properties rendered. `path` is the pin's
/// own path (`[1]`, `disconnected[0]`, or empty for a lone pin); every error names the
/// offending value below it, present or missing (`[1].properties.id`). Nested `disconnected`
/// lists are checked too, with scope session_end, and kept as written.
result<pin> parse_pin(const boost::json::value& value, const std::string& path,
                      const parse_options& options);

/// Checks a whole document of POST /api/v1/actions, one pin or an array of pins, and returns
/// the pins in order. All or nothing: one invalid pin fails the document, so that nothing
/// runs (scope request).
result<std::vector<pin>> parse_document(const boost::json::value& document,
                                        const pin_limits& limits);

/// Checks a list of pins meant to run when a session ends (a `disconnected` value), so it
/// can be stored and run later. `path` names the list (`disconnected` gives errors such as
/// `disconnected[2].type`). Null means no actions and passes.
result<void> check_disconnected(const boost::json::value& list, const std::string& path,
                                const pin_limits& limits);

} // namespace ssehub::actions
