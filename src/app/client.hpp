// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ssehub::app {

/// The command line client's side of a running hub: push, broadcast, run and tail, each a
/// blocking HTTP/1.1 exchange over TCP, or over TLS for an https:// URL (the hub's
/// certificate and name are always verified). Each command writes the reply
/// to `out`, problems to `err`, and returns the process exit status below.

inline constexpr std::string_view default_hub_url = "http://127.0.0.1:8080";

inline constexpr int exit_ok = 0;
inline constexpr int exit_failed = 1;      ///< the hub answered with an error, or input failed
inline constexpr int exit_usage = 2;       ///< a bad argument or configuration
inline constexpr int exit_unreachable = 3; ///< no answer from the hub

/// Where the hub is and which namespace the commands act in (empty: the default one).
struct client_options {
    std::string url{default_hub_url};
    std::string digipair;
    std::string reasoning;
    std::string token;   ///< API key or JWT, sent as `Authorization: Bearer`; empty: none
    std::string ca_file; ///< https://: PEM file of the CAs to trust; empty: the system's
};

/// The message as the hub receives it: the JSON value the text holds, or, when the text is
/// not JSON, the text itself as a JSON string (`hello` becomes `"hello"`, `42` stays 42).
boost::json::value message_value(std::string_view text);

/// `POST /api/v1/sessions/{session}/messages` with `{"message", "event"?}`.
int push(const client_options& options, std::string_view session, std::string_view message,
         const std::optional<std::string>& event, std::ostream& out, std::ostream& err);

/// `POST /api/v1/channels/{channel}/messages`; without a channel, a `broadcast` pin with no
/// `id` to `POST /api/v1/actions`, which reaches every session of the namespace.
int broadcast(const client_options& options, std::string_view message,
              const std::optional<std::string>& channel, const std::optional<std::string>& event,
              std::ostream& out, std::ostream& err);

/// `POST /api/v1/actions` with `document` as it is.
int run_actions(const client_options& options, std::string document, std::ostream& out,
                std::ostream& err);

struct tail_options {
    std::optional<std::string> session;
    std::vector<std::string> channels;
    std::optional<std::string> last_event_id;
    bool json = false;                ///< print `{"event","id","data"}` lines
    std::optional<std::size_t> count; ///< stop after this many events
};

/// `GET /events`, printing one line per event: `EVENT ID DATA` (`-` for an empty id; CR and
/// LF inside the data written as `\r` and `\n`), or a JSON object per line. Returns when the
/// count is reached, when the hub ends the stream, or on SIGINT (all exit_ok).
int tail(const client_options& options, const tail_options& what, std::ostream& out,
         std::ostream& err);

} // namespace ssehub::app
