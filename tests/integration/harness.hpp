// SPDX-License-Identifier: Apache-2.0
#pragma once

// The integration harness: the real `ssehub` binary as a child process, and clients that
// see the bytes it writes. Everything here is blocking with a deadline, single-threaded
// per object, and talks only to 127.0.0.1.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <gtest/gtest.h>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <thread>
#include <utility>
#include <vector>

namespace ssehub::test {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

/// The built server: $SSEHUB_BIN, else the path CMake compiled in.
std::string ssehub_binary();

/// The shared/ folder beside the repository: $SSEHUB_SHARED_DIR, else CMake's value.
std::filesystem::path shared_dir();

/// The whole file, byte for byte; throws when it cannot be read.
std::string read_file(const std::filesystem::path& path);

/// `now + d`, the form every deadline below takes.
inline clock::time_point after(clock::duration d) {
    return clock::now() + d;
}

/// How a stopped server ended.
struct exit_status {
    bool exited = false; ///< it called exit(); `code` holds the status
    int code = -1;
    int signal = 0;      ///< the signal that ended it, when it did not exit
    bool killed = false; ///< it outlived the SIGTERM deadline and got SIGKILL
    std::string describe() const;

    bool clean() const { return exited && code == 0 && !killed; }
};

/// `ssehub serve --listen 127.0.0.1:0 ARGS...` as a child process. The constructor waits
/// (at most 10 s) for the `listening address=HOST:PORT` log line and throws, with the
/// collected output, when it does not come. stdout and stderr are collected for failure
/// messages for the whole life of the process.
class server_process {
public:
    explicit server_process(std::vector<std::string> extra_args = {});
    ~server_process();
    server_process(const server_process&) = delete;
    server_process& operator=(const server_process&) = delete;

    const std::string& host() const { return host_; }

    std::uint16_t port() const { return port_; }

    /// `HOST:PORT`, as logged.
    std::string address() const;

    pid_t pid() const { return pid_; }

    /// Everything it wrote so far, stderr then stdout.
    std::string output() const;

    /// SIGTERM, then SIGKILL when it is still running after `deadline`. Idempotent: later
    /// calls return the first result.
    exit_status stop(clock::duration deadline = 15s);

    bool stopped() const { return status_.has_value(); }

private:
    void collect();

    pid_t pid_ = -1;
    int err_fd_ = -1;
    int out_fd_ = -1;
    std::string host_;
    std::uint16_t port_ = 0;
    std::optional<exit_status> status_;

    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::string err_;
    std::string out_;
    bool err_eof_ = false;
    std::thread reader_;
};

/// A TCP client on a blocking socket with deadlines, keeping every byte it receives and
/// when it arrived.
class tcp_client {
public:
    /// `receive_buffer` > 0 sets SO_RCVBUF before connecting: a client that stops reading
    /// then stalls the server's writes after a few KiB.
    tcp_client(const std::string& host, std::uint16_t port, clock::duration timeout = 5s,
               int receive_buffer = 0);
    ~tcp_client();
    tcp_client(const tcp_client&) = delete;
    tcp_client& operator=(const tcp_client&) = delete;

    /// Writes all of `bytes`; false when the peer is gone or the deadline passes.
    bool send(std::string_view bytes, clock::duration timeout = 5s);

    /// One read of what is available. False on deadline, EOF or error.
    bool read_some(clock::time_point deadline);

    /// Reads until `needle` occurs at or after `from`. Returns its offset, or npos when the
    /// deadline passes or the peer closes first.
    std::size_t read_until(std::string_view needle, clock::time_point deadline,
                           std::size_t from = 0);

    /// Reads until `received().size() >= n`; false on deadline or EOF.
    bool read_at_least(std::size_t n, clock::time_point deadline);

    /// Reads (and keeps) until the peer closes or resets; false when the deadline passes.
    bool read_until_closed(clock::time_point deadline);

    /// All bytes so far.
    const std::string& received() const { return received_; }

    /// When the byte at `offset` arrived (the time of the read that brought it).
    clock::time_point arrival(std::size_t offset) const;

    /// The peer closed (EOF) or reset the connection.
    bool closed() const { return closed_; }

    /// Closes with a FIN.
    void close();

    /// Closes with a RST (SO_LINGER 0).
    void reset();

private:
    struct chunk {
        clock::time_point at;
        std::size_t end; ///< offset just past the bytes of this read
    };

    boost::asio::io_context ioc_;
    boost::asio::ip::tcp::socket socket_;
    std::string received_;
    std::vector<chunk> arrivals_;
    bool closed_ = false;
};

/// One header line, as received.
using header_list = std::vector<std::pair<std::string, std::string>>;

/// Case-insensitive look-ups in a header list.
std::optional<std::string> find_header(const header_list& headers, std::string_view name);
std::size_t count_header(const header_list& headers, std::string_view name);

/// A complete HTTP response, from the Beast client.
struct http_response {
    int status = 0;
    header_list headers;
    std::string body;

    std::optional<std::string> header(std::string_view name) const {
        return find_header(headers, name);
    }

    /// The body as JSON; a null value (and a test failure) when it is not JSON.
    boost::json::value json() const;
};

struct request_options {
    std::string content_type = "application/json";
    header_list headers;
    clock::duration timeout = 10s;
};

/// An HTTP/1.1 client on one keep-alive connection (Beast). The request is written while
/// the response is read, so a server that answers early (413) and closes is still heard.
class http_client {
public:
    http_client(const std::string& host, std::uint16_t port);

    explicit http_client(const server_process& hub) : http_client(hub.host(), hub.port()) {}

    ~http_client();
    http_client(const http_client&) = delete;
    http_client& operator=(const http_client&) = delete;

    /// Throws std::runtime_error when no complete response arrives in time.
    http_response request(std::string_view method, std::string_view target,
                          std::string_view body = {}, const request_options& options = {});

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// One request on a fresh connection.
http_response http_request(const server_process& hub, std::string_view method,
                           std::string_view target, std::string_view body = {},
                           const request_options& options = {});

/// One block of an event stream, up to and including its blank line.
struct sse_frame {
    std::string raw;                ///< the exact bytes
    std::vector<std::string> lines; ///< without their LF
    std::string event;              ///< value of the last `event:` line, verbatim
    std::optional<std::string> id;  ///< value of the last `id:` line
    std::string data;               ///< `data:` values joined by LF
    std::size_t data_lines = 0;
    std::optional<std::string> retry;
    bool comment_only = false; ///< only `:` lines: a keep-alive
    clock::time_point at;      ///< arrival of its last byte

    /// Something a parser dispatches: not a retry hint, a comment or an id-only block
    /// (which sets the last event id and dispatches nothing).
    bool is_event() const { return !event.empty() || data_lines > 0; }

    /// Only an `id:` line: where a fresh stream starts, for a resume before its first event.
    bool is_cursor() const { return id.has_value() && lines.size() == 1; }

    /// `data` as JSON; null when it is not JSON.
    boost::json::value json() const;
};

/// The head of a response read from a raw socket.
struct response_head {
    std::string status_line;
    int status = 0;
    header_list headers;
    std::string raw; ///< status line and headers, CRLFs included

    std::optional<std::string> header(std::string_view name) const {
        return find_header(headers, name);
    }
};

struct subscribe_options {
    std::string method = "GET";
    std::string body; ///< for POST subscriptions
    std::string content_type = "application/json";
    header_list headers;    ///< extra request headers
    int receive_buffer = 0; ///< SO_RCVBUF of the client socket; 0 keeps the system's
};

/// An SSE subscription on a raw socket: it decodes the chunked body itself and splits it
/// into frames, so tests see exactly the bytes the hub wrote and when.
class sse_stream {
public:
    /// Connects and sends the request; reads nothing yet.
    sse_stream(const server_process& hub, std::string target, subscribe_options options = {});

    /// The same through something else in front of the hub (a proxy on `host:port`).
    sse_stream(const std::string& host, std::uint16_t port, std::string target,
               subscribe_options options = {});

    /// Waits for the status line and headers. False on deadline or close.
    bool read_head(clock::time_point deadline);

    const response_head& head() const { return head_; }

    /// When the request was written.
    clock::time_point sent_at() const { return sent_at_; }

    /// The decoded body so far.
    const std::string& body() const { return body_; }

    /// When the decoded body byte at `offset` arrived.
    clock::time_point body_arrival(std::size_t offset) const;

    /// Reads until the decoded body holds at least `n` bytes.
    bool read_body(std::size_t n, clock::time_point deadline);

    /// Reads a whole non-stream response (Content-Length, chunked or until close).
    bool read_complete_body(clock::time_point deadline);

    /// The next frame after the last one returned, keep-alives and retry hints included.
    std::optional<sse_frame> next_frame(clock::time_point deadline);

    /// The next frame that is an event, skipping keep-alives and retry hints (which are
    /// kept in skipped()).
    std::optional<sse_frame> next_event(clock::time_point deadline);

    /// Frames next_event() passed over.
    const std::vector<sse_frame>& skipped() const { return skipped_; }

    /// Reads until the hub ends the stream (last chunk, EOF or reset).
    bool wait_closed(clock::time_point deadline);

    /// The hub ended the stream (last chunk, EOF or reset).
    bool ended() const { return ended_; }

    /// The body was not valid chunked encoding.
    bool framing_error() const { return framing_error_; }

    /// Everything received, head included, undecoded.
    const std::string& raw() const { return socket_.received(); }

    tcp_client& socket() { return socket_; }

private:
    bool pump(clock::time_point deadline);
    void decode();

    tcp_client socket_;
    clock::time_point sent_at_;
    response_head head_;
    bool have_head_ = false;
    std::size_t raw_pos_ = 0; ///< first undecoded byte of socket_.received()
    bool chunked_ = false;
    std::optional<std::size_t> content_length_;
    std::size_t chunk_left_ = 0;
    enum class chunk_state { size, data, data_crlf, trailer, done } state_ = chunk_state::size;
    std::string body_;

    struct piece {
        clock::time_point at;
        std::size_t end;
    };

    std::vector<piece> body_arrivals_;
    std::size_t frame_pos_ = 0; ///< first body byte not yet returned as a frame
    std::vector<sse_frame> skipped_;
    bool ended_ = false;
    bool framing_error_ = false;
};

/// Splits one frame's bytes into fields, verbatim (no space is stripped after a colon).
sse_frame parse_frame(std::string raw, clock::time_point at);

/// Percent-encodes everything but unreserved characters.
std::string url_encode(std::string_view s);

/// `{"library":"@digipair/skill-sse","element":ELEMENT,"properties":PROPERTIES}`.
boost::json::value pin(std::string_view element, boost::json::value properties);

std::string to_json(const boost::json::value& v);

/// The response is `status` with a JSON body `{"error":{"code","message","path"}}` whose
/// strings are non-empty (code, message) and whose path equals `path` when one is given.
::testing::AssertionResult is_json_error(const http_response& response, int status,
                                         std::optional<std::string_view> path = {});

/// The same for a response read from a raw socket.
::testing::AssertionResult is_json_error(const response_head& head, const std::string& body,
                                         int status, std::optional<std::string_view> path = {});

/// The frame is `event:NAME\nid:<cur>\ndata:DATA\n\n` exactly, with an opaque id: present,
/// non-empty, ASCII without CR, LF or NUL.
::testing::AssertionResult is_event(const sse_frame& frame, std::string_view name,
                                    std::string_view data);

/// True when some string anywhere in `v` (keys excluded) equals `s`.
bool mentions(const boost::json::value& v, std::string_view s);

/// The value of the sample `ssehub_NAME` (without labels) in /metrics; -1 when absent.
long long metric(const server_process& hub, std::string_view name);

/// How many files the process has open (its /proc/PID/fd entries).
std::size_t open_files(pid_t pid);

/// A registerSession pin whose `disconnected` writes one log line per ending: the
/// recorder of the field cases, read back from the hub's output with records().
boost::json::value declared(std::string_view session);

/// How many endings the recorder wrote for `session` with `reason`.
std::size_t records(const server_process& hub, std::string_view session, std::string_view reason);

/// How many endings the recorder wrote for `session`, whatever the reason.
std::size_t records(const server_process& hub, std::string_view session);

/// Polls `done` every 20 ms until it holds or `deadline` passes.
template <class Predicate> bool eventually(Predicate done, clock::time_point deadline) {
    while (!done()) {
        if (clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
}

/// Well-formed UTF-8, no surrogates or overlongs.
bool is_strict_utf8(std::string_view s);

/// A test with its own server. start() may be called once per test; TearDown stops the
/// server, expects a clean exit status, and prints its output when the test failed.
class hub_test : public ::testing::Test {
protected:
    server_process& start(std::vector<std::string> extra_args = {});
    void TearDown() override;

    server_process& hub() { return *hub_; }

    /// POST /api/v1/actions with `document` (a pin or an array of pins).
    http_response actions(const boost::json::value& document);

    /// Opens a stream and waits for its head and the `retry:` hint.
    std::unique_ptr<sse_stream> subscribe(std::string target, subscribe_options options = {});

    std::unique_ptr<server_process> hub_;
};

} // namespace ssehub::test
