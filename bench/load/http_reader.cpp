// SPDX-License-Identifier: Apache-2.0
#include "http_reader.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace ssehub::bench {

namespace {

// A head larger than this is not a server we measure.
constexpr std::size_t max_head_bytes = 64 * 1024;

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
        text.remove_suffix(1);
    }
    return text;
}

} // namespace

std::string ascii_lower(std::string_view text) {
    std::string out(text);
    std::ranges::transform(out, out.begin(), [](char c) {
        return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    });
    return out;
}

void response_reader::reset() {
    state_ = state::head;
    head_.clear();
    status_ = 0;
    closes_ = false;
    left_ = 0;
    error_.clear();
}

bool response_reader::take_head(std::string_view head) {
    // The status line: HTTP/1.x NNN reason
    const auto line_end = head.find("\r\n");
    const std::string_view status_line = head.substr(0, line_end);
    if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12) {
        error_ = "not an HTTP/1 status line";
        return false;
    }
    int code = 0;
    const auto* first = status_line.data() + 9;
    const auto [end, ec] = std::from_chars(first, first + 3, code);
    if (ec != std::errc{} || end != first + 3 || code < 100) {
        error_ = "bad status code";
        return false;
    }
    status_ = code;

    // The header fields that frame the body.
    bool chunked = false;
    bool has_length = false;
    std::size_t length = 0;
    std::string_view rest = line_end == std::string_view::npos ? "" : head.substr(line_end + 2);
    while (!rest.empty()) {
        const auto eol = rest.find("\r\n");
        const std::string_view line = rest.substr(0, eol);
        rest = eol == std::string_view::npos ? "" : rest.substr(eol + 2);
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) {
            continue;
        }
        const std::string name = ascii_lower(trim(line.substr(0, colon)));
        const std::string_view value = trim(line.substr(colon + 1));
        if (name == "transfer-encoding") {
            chunked = ascii_lower(value).find("chunked") != std::string::npos;
        } else if (name == "connection") {
            closes_ = ascii_lower(value).find("close") != std::string::npos;
        } else if (name == "content-length") {
            const auto [p, e] = std::from_chars(value.data(), value.data() + value.size(), length);
            has_length = e == std::errc{} && p == value.data() + value.size();
        }
    }

    if (code == 204 || code == 304 || (code >= 100 && code < 200)) {
        state_ = state::done;
    } else if (chunked) {
        state_ = state::chunk_size;
    } else if (has_length) {
        left_ = length;
        state_ = length == 0 ? state::done : state::body_length;
    } else {
        state_ = state::until_close;
    }
    return true;
}

bool response_reader::take_chunk_size(std::string_view line) {
    // chunk-size [; extensions]
    const auto semi = line.find(';');
    const std::string_view hex = trim(line.substr(0, semi));
    std::size_t size = 0;
    const auto [p, e] = std::from_chars(hex.data(), hex.data() + hex.size(), size, 16);
    if (hex.empty() || e != std::errc{} || p != hex.data() + hex.size()) {
        error_ = "bad chunk size";
        return false;
    }
    left_ = size;
    state_ = size == 0 ? state::trailers : state::chunk_data;
    return true;
}

std::size_t response_reader::feed(std::string_view bytes, const body_handler& on_body) {
    const std::size_t given = bytes.size();
    while (!bytes.empty()) {
        switch (state_) {
        case state::head: {
            // Look for the blank line, also across the previous piece's end.
            const std::size_t before = head_.size();
            head_.append(bytes);
            const auto blank = head_.find("\r\n\r\n", before >= 3 ? before - 3 : 0);
            if (blank == std::string::npos) {
                if (head_.size() > max_head_bytes) {
                    error_ = "response head too large";
                    state_ = state::failed;
                    return given - bytes.size();
                }
                return given;
            }
            const std::size_t used = blank + 4 - before;
            bytes.remove_prefix(used);
            const std::string head = head_.substr(0, blank);
            head_.clear();
            if (!take_head(head)) {
                state_ = state::failed;
                return given - bytes.size();
            }
            break;
        }
        case state::body_length:
        case state::chunk_data: {
            const std::size_t n = std::min(left_, bytes.size());
            on_body(bytes.substr(0, n));
            bytes.remove_prefix(n);
            left_ -= n;
            if (left_ == 0) {
                state_ = state_ == state::body_length ? state::done : state::chunk_end;
            }
            break;
        }
        case state::chunk_size:
        case state::chunk_end:
        case state::trailers: {
            const auto eol = bytes.find('\n');
            head_.append(bytes.substr(0, eol));
            if (eol == std::string_view::npos) {
                bytes = {};
                break;
            }
            bytes.remove_prefix(eol + 1);
            std::string line = std::move(head_);
            head_.clear();
            if (!line.empty() && line.back() == '\r') {
                line.pop_back();
            }
            if (state_ == state::chunk_end) {
                state_ = state::chunk_size;
            } else if (state_ == state::trailers) {
                state_ = line.empty() ? state::done : state::trailers;
            } else if (!take_chunk_size(line)) {
                state_ = state::failed;
                return given - bytes.size();
            }
            break;
        }
        case state::until_close:
            on_body(bytes);
            bytes = {};
            break;
        case state::done:
        case state::failed:
            return given - bytes.size();
        }
    }
    return given;
}

} // namespace ssehub::bench
