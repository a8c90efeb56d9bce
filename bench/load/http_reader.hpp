// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace ssehub::bench {

/// Reads one HTTP/1.1 response at a time from bytes cut anywhere: the head, then a body
/// framed by Content-Length, by chunked transfer coding, or by the end of the connection
/// (an SSE stream without either). The decoded body goes to the caller as it arrives.
/// Single-threaded; one reader per connection.
class response_reader {
public:
    enum class state {
        head,        ///< reading the status line and the header fields
        body_length, ///< Content-Length bytes left
        chunk_size,  ///< reading a chunk-size line
        chunk_data,  ///< inside a chunk
        chunk_end,   ///< the CRLF after a chunk's data
        trailers,    ///< after the last chunk, up to the blank line
        until_close, ///< no framing: the body ends with the connection
        done,        ///< one whole response read; reset() to read the next
        failed,      ///< not HTTP, or a framing the reader does not know
    };

    /// Called with decoded body bytes, from inside feed().
    using body_handler = std::function<void(std::string_view)>;

    /// Reads from `bytes` and returns how many it used: fewer than given only when the
    /// response ended (state done) or failed; the rest belongs to the next response.
    std::size_t feed(std::string_view bytes, const body_handler& on_body);

    /// Forgets the response, to read the next one on a kept-alive connection.
    void reset();

    state current() const noexcept { return state_; }

    /// True once the head is read.
    bool has_head() const noexcept { return status_ != 0; }

    /// The status code, 0 before the head.
    int status() const noexcept { return status_; }

    /// True when the head said `Connection: close`: no request may follow on this connection.
    bool closes() const noexcept { return closes_; }

    /// What went wrong, when failed.
    const std::string& error() const noexcept { return error_; }

private:
    bool take_head(std::string_view head);
    bool take_chunk_size(std::string_view line);

    state state_ = state::head;
    std::string head_; ///< the head or the chunk-size line being read
    int status_ = 0;
    bool closes_ = false;
    std::size_t left_ = 0; ///< bytes left in the body or in the chunk
    std::string error_;
};

/// Lower-case copy of an ASCII string.
std::string ascii_lower(std::string_view text);

} // namespace ssehub::bench
