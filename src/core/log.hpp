// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>
#include <mutex>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace ssehub::core {

/// The named logger of a layer (`core`, `http`, `actions`, `broker`, `app`). The app
/// registers them at start-up with its level and format; a library user or a test that
/// did not gets a plain stderr logger of that name on first use.
inline std::shared_ptr<spdlog::logger> logger(const char* name) {
    if (auto existing = spdlog::get(name)) {
        return existing;
    }
    static std::mutex creating;
    std::lock_guard lock(creating);
    if (auto existing = spdlog::get(name)) {
        return existing;
    }
    return spdlog::stderr_color_mt(name);
}

} // namespace ssehub::core
