// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <ssehub/error.hpp>
#include <string>
#include <string_view>

namespace ssehub::core {

/// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF).
bool is_valid_utf8(std::string_view s) noexcept;

/// A session or channel id: at most `max_length` bytes of valid UTF-8 without control
/// characters (C0, DEL, C1) or whitespace. A session id must not be empty; the default
/// channel is `""`, so `allow_empty` admits it for channels.
result<void> check_id(std::string_view id, std::size_t max_length, std::string path,
                      bool allow_empty = false);

/// An event name: 1..max_length bytes of valid UTF-8, no control characters, no leading
/// or trailing whitespace (a client would strip or keep it and no listener would match).
/// Inner spaces are kept byte for byte.
result<void> check_event_name(std::string_view name, std::size_t max_length, std::string path);

} // namespace ssehub::core
