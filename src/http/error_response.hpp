// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <boost/beast/http/status.hpp>
#include <ssehub/error.hpp>
#include <string>

namespace ssehub::http {

/// The one place where an error becomes an HTTP status (DESIGN.md section 3).
boost::beast::http::status status_of(errc code) noexcept;

/// `{"error":{"code":"...","message":"...","path":"..."}}`.
std::string error_body(const error& e);

} // namespace ssehub::http
