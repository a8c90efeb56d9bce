// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <app/config.hpp>

namespace ssehub::app {

/// Runs the hub until SIGINT or SIGTERM: starts the worker threads, the listener and the
/// action runner, logs `listening address=HOST:PORT`, and drains within the shutdown
/// deadline. Returns the process exit status (0 after a clean shutdown, 2 when the
/// configuration cannot be served, such as an address already in use).
int serve(const config& cfg);

} // namespace ssehub::app
