// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <string>
#include <string_view>

namespace ssehub {

/// What went wrong, independent of the transport. The HTTP layer maps each value to one
/// status code in one place (http/error_response.cpp); the code's name is the `code` field
/// of the JSON error body.
enum class errc {
    bad_request = 1, ///< malformed input: bad JSON, a wrong type, a forbidden character
    not_found,       ///< unknown route, session or channel (REST only; pins get a result)
    method_not_allowed,
    payload_too_large, ///< a body or a message over its limit
    headers_too_large, ///< a request line or headers over their limit
    limit_exceeded,    ///< a count limit: channels per session, connections, sessions
    unauthorized,
    forbidden,
    unavailable, ///< draining or a broker that cannot deliver
    internal,
    timeout, ///< a request's head or body did not arrive in time (408)
};

/// The JSON name of a code: `bad_request`, `not_found`, ...
std::string_view to_string(errc code);

/// One failure: its code, a sentence for a person, and the path of the offending value
/// inside the request (`[0].properties.message`, `session`, `body`); empty when the failure
/// concerns the request as a whole.
struct error {
    errc code = errc::internal;
    std::string message;
    std::string path;
};

/// Thrown only when a caller reads `value()` of a failed result; the hot paths test first.
class error_exception : public std::exception {
public:
    explicit error_exception(error e) : error_(std::move(e)) {}

    const char* what() const noexcept override { return error_.message.c_str(); }

    const ssehub::error& get() const noexcept { return error_; }

private:
    ssehub::error error_;
};

[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& loc);

template <class T> using result = boost::system::result<T, error>;

/// Shorthand used by validators: an error with a path.
inline error make_error(errc code, std::string message, std::string path = {}) {
    return error{code, std::move(message), std::move(path)};
}

} // namespace ssehub
