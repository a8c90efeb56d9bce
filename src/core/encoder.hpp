// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>

namespace ssehub::core {

/// The bytes of one event as the Digipair skill writes them:
/// `event:<name>\nid:<id>\ndata:<data>\n\n`. The caller has checked that `name` and `id`
/// hold no CR, LF or NUL, and `data` is compact JSON, which never holds a raw line break.
std::string encode_event(std::string_view name, std::string_view id, std::string_view data);

/// `id:<id>\n\n`: sets a client's last event id without dispatching anything (WHATWG
/// dispatch sets the last event id before it drops a block without data).
std::string encode_cursor(std::string_view id);

/// `retry:<ms>\n\n`.
std::string encode_retry(long long milliseconds);

/// The keep-alive comment.
inline constexpr std::string_view keepalive_frame = ":\n\n";

} // namespace ssehub::core
