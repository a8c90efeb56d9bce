// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <ssehub/error.hpp>
#include <string_view>

namespace ssehub::app {

/// The named loggers of the layers (DESIGN.md section 7); core::logger() finds them.
inline constexpr std::array<const char*, 5> logger_names{"core", "http", "actions", "broker",
                                                         "app"};

/// Makes every logger of logger_names write to stderr at `level` (trace, debug, info, warn,
/// error) in `format`: `text` gives `[time] [level] [logger] message`, `json` one object
/// per line with `time`, `level`, `logger` and `message`. `app` also becomes spdlog's
/// default logger.
///
/// A logger that already exists (core::logger() creates one on first use) is reconfigured
/// in place, so pointers other code holds stay valid. Call it before any other thread logs:
/// spdlog does not guard a logger's sink list against concurrent use.
result<void> init_logging(std::string_view level, std::string_view format);

} // namespace ssehub::app
