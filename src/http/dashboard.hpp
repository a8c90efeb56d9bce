// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string_view>

namespace ssehub::http {

/// The page served at `/`: sessions and channels of a namespace, refreshed every two
/// seconds by polling the introspection routes (it holds no stream, so tabs never use up
/// the browser's connections per host), with forms to push and broadcast.
extern const std::string_view dashboard_html;

} // namespace ssehub::http
