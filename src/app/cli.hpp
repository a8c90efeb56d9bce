// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string_view>

namespace ssehub::app {

/// The `ssehub` version `ssehub version` prints; keep it equal to project(VERSION) in the
/// top-level CMakeLists.txt.
inline constexpr std::string_view version = "0.1.0";

/// The arguments of the example in `ssehub serve --help`; a unit test loads them, so the
/// example keeps working as the table changes.
inline constexpr std::string_view serve_example =
    "--listen 127.0.0.1:8080 --session-grace 30s --stream-keepalive 15s "
    "--cors-allow-origins https://app.example.com --log-format json";

/// Runs the `ssehub` command: `serve` (the hub) or a client command (`push`, `broadcast`,
/// `run`, `tail`, `version`). Returns the process exit status: 0 success, 1 an error reply
/// or a failed command, 2 a bad command line or configuration, 3 the hub cannot be reached;
/// `serve` returns what app::serve() returns.
int run_cli(int argc, const char* const* argv);

} // namespace ssehub::app
